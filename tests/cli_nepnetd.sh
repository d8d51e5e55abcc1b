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
expect_err --bogus "unknown option --bogus"
expect_err --log-level info,dht=loud "is not a log level spec"
expect_err --api-token-mode 0644 "0600 or 0640"

# one version, on both programs (and in /v1/status below)
v=$("$d" --version | head -n1)
c=$("$cli" --version | head -n1)
[[ $v =~ ^nepnetd\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "nepnetd --version: $v"
[ "${v#nepnetd }" = "${c#nepnet }" ] || fail "nepnetd and nepnet report different versions: '$v' and '$c'"
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
[ ! -e "$dir/n/nepnetd.pid" ] || fail "nepnetd.pid left behind"

# logs: an RFC 3339 UTC time with milliseconds, a severity and a subsystem; SIGHUP reloads the
# settings file (a changed log level at once, the rest named for the next start), reopens the
# log file (logrotate moved it) and the daemon keeps serving
printf 'log-level = warn\n' > "$dir/n/nepnetd.conf"
start() {
  "$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 --log-file "$dir/n/node.log" \
    >>"$dir/log" 2>&1 &
  pid=$!
  # ours: our pid in nepnetd.pid, and an API that answers (an api.address left by a killed
  # daemon names a port nobody listens on)
  for _ in $(seq 100); do
    [ "$(cat "$dir/n/nepnetd.pid" 2>/dev/null)" = "$pid" ] && "$cli" --datadir "$dir/n" status >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$cli" --datadir "$dir/n" status >/dev/null || fail "nepnetd did not start within 10 s"
}
start
"$cli" --datadir "$dir/n" status >/dev/null || fail "status after start"
grep -q ' INFO ' "$dir/n/node.log" && fail "INFO lines at log-level warn: $(cat "$dir/n/node.log")"
printf 'log-level = debug\nmax-peers = 50\nroute = direct\ninv-delay-out-ms = 700\npeer = 127.0.0.1:1\n' >"$dir/n/nepnetd.conf"
mv "$dir/n/node.log" "$dir/n/node.log.1"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'settings reloaded' "$dir/n/node.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'SIGHUP: log-level is now debug' "$dir/n/node.log" || fail "SIGHUP did not change the log level: $(cat "$dir/n/node.log" 2>&1)"
grep -q "'inv-delay-out-ms = 700' differs from the running settings: it takes effect at the next start" "$dir/n/node.log" ||
  fail "SIGHUP did not name the setting it cannot change now"
grep -q 'INFO  node: limits changed: max-peers 64 -> 50' "$dir/n/node.log" || fail "SIGHUP did not change max-peers"
grep -q 'INFO  dht: seeds changed: 1 static peers (1 new, 0 gone)' "$dir/n/node.log" || fail "SIGHUP did not change the seeds"
grep -q "'max-peers = 50' differs" "$dir/n/node.log" && fail "SIGHUP named max-peers as restart-only"
grep -q 'SIGHUP: route is now direct' "$dir/n/node.log" || fail "SIGHUP did not change the route"
"$cli" --datadir "$dir/n" status | grep -q '^route      direct' || fail "the status does not show the new route"
kill -0 "$pid" || fail "SIGHUP killed the daemon"
out=$("$cli" --datadir "$dir/n" status) || fail "status after SIGHUP: $out"
grep -q "\"version\":\"$(awk '{print $2}' <<<"$v")\"" <<<"$("$cli" --datadir "$dir/n" status --json | tr -d ' \n')" ||
  fail "/v1/status has no version"
"$cli" --datadir "$dir/n" send "$dir/tx" >/dev/null || fail "send after SIGHUP" # logs a DEBUG line at once
for _ in $(seq 50); do grep -q ' DEBUG ' "$dir/n/node.log" && break; sleep 0.1; done
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z DEBUG node: our transaction ' "$dir/n/node.log" ||
  fail "no DEBUG line in the log format after SIGHUP: $(head -5 "$dir/n/node.log")"
# a second daemon on a live data directory is refused, naming the first
rc=0; err=$("$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "a second daemon started on a live data directory"
grep -q "another nepnetd (pid $pid) runs with the data directory" <<<"$err" || fail "unclear refusal: $err"
# killed with SIGKILL: the next start takes over without help
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ -e "$dir/n/api.address" ] || fail "SIGKILL left no api.address to take over (test premise)"
start
grep -q "taking over $dir/n from nepnetd pid [0-9]*, which is gone" "$dir/n/node.log" ||
  fail "no take-over line: $(tail -5 "$dir/n/node.log")"
"$cli" --datadir "$dir/n" status >/dev/null || fail "status after the take-over"
# api-token-mode 0640: the token file's group may read it, and the CLI accepts that
kill -TERM "$pid"; wait "$pid" || fail "exit after the take-over"; pid=
printf 'api-token-mode = 0640\n' > "$dir/n/nepnetd.conf"
start
[ "$(stat -c %a "$dir/n/api.token")" = 640 ] || fail "api-token-mode 0640: the token is $(stat -c %a "$dir/n/api.token")"
"$cli" --datadir "$dir/n" status >/dev/null || fail "the CLI refused a 0640 token"
kill -TERM "$pid"; wait "$pid" || fail "exit"; pid=
rm "$dir/n/nepnetd.conf"
rc=0; err=$("$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 2>&1) || rc=$?
[ "$rc" != 0 ] && grep -q "set api-token-mode 0640" <<<"$err" || fail "a 0640 token without api-token-mode: $err"
chmod 600 "$dir/n/api.token"

# systemd's notifications (Type=notify), against a stand-in for its notify socket: READY once the
# API listens, STATUS, RELOADING and READY around SIGHUP, STOPPING at SIGTERM (a build without
# libsystemd sends none, and says so at configure time)
if command -v python3 >/dev/null && ldd "$d" | grep -q libsystemd; then
  python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(30)
with open(sys.argv[2], "a") as f:
    while True:
        m = s.recv(4096).decode()
        f.write(m.replace("\n", " ") + "\n"); f.flush()
        if "STOPPING=1" in m: break
' "$dir/notify.sock" "$dir/notify.log" &
  lpid=$!
  for _ in $(seq 50); do [ -S "$dir/notify.sock" ] && break; sleep 0.1; done
  NOTIFY_SOCKET="$dir/notify.sock" "$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 \
    >>"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'READY=1' "$dir/notify.log" 2>/dev/null && break; sleep 0.1; done
  "$cli" --datadir "$dir/n" status >/dev/null || fail "READY=1 before the API answers"
  grep -q '^STATUS=bootstrapping, 0 peers' "$dir/notify.log" || fail "no STATUS line: $(cat "$dir/notify.log")"
  kill -HUP "$pid"
  for _ in $(seq 50); do grep -q 'RELOADING=1' "$dir/notify.log" && break; sleep 0.1; done
  kill -TERM "$pid"; wait "$pid" || fail "exit after the notifications"; pid=
  wait "$lpid"
  tr '\n' '|' <"$dir/notify.log" | grep -q 'READY=1|.*RELOADING=1|READY=1|.*STOPPING=1' ||
    fail "the notifications were not READY, RELOADING, READY, STOPPING: $(cat "$dir/notify.log")"
fi

# a key file others can read is refused, naming the file and the fix
chmod 644 "$dir/n/identity.key"
rc=0; err=$("$d" --datadir "$dir/n" --network regtest --listen 127.0.0.1:0 --api 127.0.0.1:0 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "started with a 0644 key file"
grep -q "identity.key" <<<"$err" && grep -q "chmod 600" <<<"$err" || fail "unclear refusal: $err"
echo "cli_nepnetd: ok"
