#!/usr/bin/env bash
# End-to-end check of `nepnet selftest` and `nepnet identity` as a user runs them.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$bin" --datadir "$dir/node" selftest) || fail "selftest exited non-zero: $out"
grep -q 'created now' <<<"$out" || fail "first run did not create the identity"
grep -q 'self-test passed' <<<"$out" || fail "self-test did not pass"
id1=$(awk '/^node id/ {print $3}' <<<"$out")
[ ${#id1} -eq 64 ] || fail "node id not 64 hex digits: '$id1'"
[ "$(stat -c %a "$dir/node/identity.key")" = 600 ] || fail "key file is not 0600"
[ "$(stat -c %a "$dir/node")" = 700 ] || fail "data dir is not 0700"

id2=$("$bin" --datadir "$dir/node" identity)
[ "$id1" = "$id2" ] || fail "identity changed between runs: $id1 vs $id2"

chmod 644 "$dir/node/identity.key"
if err=$("$bin" --datadir "$dir/node" identity 2>&1); then fail "accepted a 0644 key file"; fi
grep -q "$dir/node/identity.key" <<<"$err" || fail "error does not name the file: $err"
grep -q 'chmod 600' <<<"$err" || fail "error does not say how to fix it: $err"

chmod 600 "$dir/node/identity.key"
printf 'garbage' >> "$dir/node/identity.key"
if err=$("$bin" --datadir "$dir/node" identity 2>&1); then fail "accepted a damaged key file"; fi
grep -q 'damaged' <<<"$err" || fail "damaged file not reported as such: $err"

"$bin" --help | grep -q 'selftest' || fail "--help does not list selftest"
if "$bin" frobnicate 2>/dev/null; then fail "unknown command accepted"; fi
echo "cli ok"
