#!/usr/bin/env bash
# End-to-end check of `nepnet listen` and `nepnet connect` as a user runs them: a listener on a
# free port, mutual, anonymous and stdin-driven clients, and the errors for a wrong node id, a
# wrong network and a malformed address.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$dir/listen.log" ] && sed 's/^/  listen| /' "$dir/listen.log" >&2
  exit 1
}
# wait_log PATTERN: until the listener's log has a line matching PATTERN (bounded)
wait_log() {
  for _ in $(seq 1 200); do
    grep -q -- "$1" "$dir/listen.log" && return 0
    kill -0 "$pid" 2>/dev/null || fail "listener exited while waiting for '$1'"
    sleep 0.05
  done
  fail "listener never printed '$1'"
}

# Port 0: the listener picks a free port and prints the address it got.
"$bin" --datadir "$dir/srv" listen --bind 127.0.0.1:0 --network regtest >"$dir/listen.log" 2>&1 &
pid=$!
wait_log 'node address'
addr=$(grep -o '[0-9a-f]\{64\}@127\.0\.0\.1:[0-9]\{1,5\}' "$dir/listen.log" | head -n1)
[ -n "$addr" ] || fail "listener printed no NODEID@HOST:PORT"
srv_id=${addr%@*}
hostport=${addr#*@}
[ "$srv_id" = "$("$bin" --datadir "$dir/srv" identity)" ] || fail "printed node id is not the identity's"
cli_id=$("$bin" --datadir "$dir/cli" identity)

# Mutual: both ids shown, the parameters printed, every message echoed in order.
out=$("$bin" --datadir "$dir/cli" connect "$addr" --network regtest \
      --message hello --message 'second message') || fail "connect failed: $out"
grep -q "peer $srv_id" <<<"$out" || fail "connect did not print the listener's id: $out"
grep -q 'hybrid X25519 + ML-KEM-1024' <<<"$out" || fail "no key exchange line: $out"
grep -q 'ML-DSA-87, both sides' <<<"$out" || fail "no signature line: $out"
grep -q 'AES-256-GCM; rekey every 1024' <<<"$out" || fail "no record line: $out"
grep -q 'peer accepts 8388608 bytes' <<<"$out" || fail "no max message line: $out"
grep -q 'handshake .* bytes sent, .* received' <<<"$out" || fail "no handshake bytes: $out"
grep -q 'session id    [0-9a-f]\{16\}' <<<"$out" || fail "no session id: $out"
[ "$(grep '^echo: ' <<<"$out")" = $'echo: hello\necho: second message' ] || fail "echoes wrong: $out"
wait_log "peer $cli_id"
wait_log 'message (14 bytes): second message (echoed)'

# Anonymous: the listener shows "anonymous"; no identity is created on this side.
out=$("$bin" --datadir "$dir/anon" connect "$addr" --anonymous --network regtest --message anon-msg) \
  || fail "anonymous connect failed: $out"
grep -qx 'echo: anon-msg' <<<"$out" || fail "anonymous echo missing: $out"
grep -q 'responder only (anonymous initiator)' <<<"$out" || fail "anonymous mode not shown: $out"
[ ! -e "$dir/anon" ] || fail "--anonymous created an identity"
wait_log 'peer anonymous'

# Without --message, each line of standard input is one message.
out=$(printf 'line one\nline two\n' | "$bin" --datadir "$dir/cli" connect "$addr" --network regtest) \
  || fail "stdin connect failed: $out"
[ "$(grep '^echo: ' <<<"$out")" = $'echo: line one\necho: line two' ] || fail "stdin echoes wrong: $out"

# A wrong node id fails, naming the address, the expected id and the reason.
wrong=$(printf '%064d' 7)
if err=$("$bin" --datadir "$dir/cli" connect "$wrong@$hostport" --network regtest --message x 2>&1); then
  fail "connect to a wrong node id succeeded: $err"
fi
grep -q "$hostport" <<<"$err" || fail "wrong-id error does not name the address: $err"
grep -q "$wrong" <<<"$err" || fail "wrong-id error does not name the expected id: $err"
grep -q 'peer is not the expected node id' <<<"$err" || fail "wrong-id error has no reason: $err"
grep -q 'nepnet identity' <<<"$err" || fail "wrong-id error has no fix: $err"

# Another network: authentication fails, and the fix names --network.
if err=$("$bin" --datadir "$dir/cli" connect "$addr" --network testnet --message x 2>&1); then
  fail "connect across networks succeeded: $err"
fi
grep -q 'check --network' <<<"$err" || fail "network mismatch not explained: $err"

# Malformed arguments: exit status 2 and a message naming the argument.
set +e
err=$("$bin" connect "not-an-address" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "malformed address: exit status $rc, want 2"
grep -q "not-an-address" <<<"$err" || fail "malformed address not named: $err"
if err=$("$bin" listen --network moonnet 2>&1); then fail "accepted --network moonnet"; fi
grep -q 'moonnet' <<<"$err" || fail "bad network not named: $err"

"$bin" --help | grep -q 'connect    connect to a node' || fail "--help does not describe connect"
"$bin" --help | grep -q 'listen     accept' || fail "--help does not describe listen"

# The listener stops cleanly on SIGTERM.
kill "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ $rc -eq 0 ] || fail "listener exited with status $rc on SIGTERM"
grep -q 'stopped: .* handshakes completed' "$dir/listen.log" || fail "listener did not report on exit"
echo "cli channel ok"
