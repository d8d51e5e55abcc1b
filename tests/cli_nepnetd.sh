#!/usr/bin/env bash
# nepnetd as an operator meets it: settings (preset < file < flags) and their errors, start,
# the API files, `nepnet status`/`send`, a clean stop on SIGTERM that keeps state, a key file
# that others can read refused.
set -euo pipefail
d=$1 cli=$2
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$dir/log" ] && cat "$dir/log" >&2; exit 1; }

# settings: the file over the preset, the flag over the file
mkdir -p "$dir/n"
printf 'preset = fast\nmax-peers = 30\ninv-delay-out-ms = 700\n' > "$dir/n/nepnetd.conf"
out=$("$d" --datadir "$dir/n" --max-peers 40 --print-config)
grep -qx 'preset = fast' <<<"$out" || fail "file preset not applied: $out"
grep -qx 'fluff-prob = 0.2' <<<"$out" || fail "preset value missing: $out"
grep -qx 'inv-delay-out-ms = 700' <<<"$out" || fail "file value missing: $out"
grep -qx 'max-peers = 40' <<<"$out" || fail "flag did not win: $out"
out=$("$d" --datadir "$dir/n" --preset private --print-config)
grep -qx 'hidden = 1' <<<"$out" || fail "--preset private not applied: $out"
rm "$dir/n/nepnetd.conf"

# errors: exit 2 and a message naming the option and the fix
expect_err() { # args... ; the last one is the text the message must contain
  local want=${!#} rc=0 err
  err=$("$d" --datadir "$dir/n" "${@:1:$#-1}" 2>&1) || rc=$?
  [ "$rc" = 2 ] || fail "nepnetd ${*:1:$#-1} exited $rc, want 2 ($err)"
  grep -qF -- "$want" <<<"$err" || fail "nepnetd ${*:1:$#-1}: message '$err' lacks '$want'"
}
expect_err --max-peers 0 "--max-peers: '0'"
expect_err --route carrier-pigeon "dandelion+mixnet"
expect_err --cover loud "off, low, standard or constant"
expect_err --listen-ip-rate abc "a number"
expect_err --bogus 1 "unknown option 'bogus'"
expect_err --preset turbo "fast, balanced or private"
"$d" --help | grep -q -- '--max-inbound-per-host' || fail "--help does not list every option"

# a node: starts, writes api.address, answers status and send, stops cleanly on SIGTERM
"$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$dir/n/api.address" ] && break; sleep 0.1; done
[ -s "$dir/n/api.address" ] || fail "no api.address after 10 s"
[ "$(stat -c %a "$dir/n/api.token")" = 600 ] || fail "api.token is not 0600"
out=$("$cli" --datadir "$dir/n" status) || fail "nepnet status failed: $out"
grep -q 'regtest' <<<"$out" || fail "status does not show the network: $out"
printf 'a transaction' > "$dir/tx"
out=$("$cli" --datadir "$dir/n" send "$dir/tx") || fail "nepnet send failed: $out"
grep -q 'dandelion' <<<"$out" || fail "send does not report the mode: $out"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "nepnetd exited $rc on SIGTERM"
grep -q 'SIGTERM: shutting down' "$dir/log" || fail "no shutdown message"
[ ! -e "$dir/n/api.address" ] || fail "api.address left behind"
[ -s "$dir/n/peers.sqlite" ] || fail "peer store missing after stop"

# a key file others can read is refused, naming the file and the fix
chmod 644 "$dir/n/identity.key"
rc=0; err=$("$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "started with a 0644 key file"
grep -q "identity.key" <<<"$err" && grep -q "chmod 600" <<<"$err" || fail "unclear refusal: $err"
echo "cli_nepnetd: ok"
