#!/usr/bin/env bash
# nepnetd's start to READY=1 (what systemd waits for with Type=notify), with an empty peer store
# and with one a devnet filled: a stand-in for systemd's notify socket (python3, a Unix datagram
# socket) times the READY message from the exec. Several runs each; the median is printed.
# and with one at its caps (bench/peerstore_fill: 16,384 new and 4,096 tried addresses, 65,536
# hosts' reputation).
#   bench/bench_ready.sh BUILD_DIR [RUNS] [DEVNET_NODES]
set -uo pipefail
b=$1
runs=${2:-5}
nodes=${3:-30}
dir=$(mktemp -d /tmp/nn-ready-XXXXXX)
trap '"$b/nepnet" devnet down --dir "$dir/devnet" >/dev/null 2>&1; rm -rf "$dir"' EXIT
ready_ms() { # DATADIR EXTRA... : ms from exec to READY=1, then stop
  local dd=$1
  shift
  python3 - "$dir/notify.sock" "$b/nepnetd" "$dd" "$@" <<'PY'
import os, socket, subprocess, sys, time, signal
path, nepnetd, dd, *extra = sys.argv[1:]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(path); s.settimeout(60)
env = dict(os.environ, NOTIFY_SOCKET=path)
t0 = time.monotonic()
p = subprocess.Popen([nepnetd, "--datadir", dd, "--network", "regtest", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0",
                      "--allow-private", "1"] + extra, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    msg = s.recv(4096).decode()
    if "READY=1" in msg: break
t = (time.monotonic() - t0) * 1000
p.send_signal(signal.SIGTERM); p.wait()
print(f"{t:.0f}")
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "command: bench/bench_ready.sh $b $runs $nodes; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do rm -rf "$dir/empty"; ready_ms "$dir/empty"; done >"$dir/empty.txt"
echo "empty peer store: READY after $(median <"$dir/empty.txt") ms (median of $runs; all: $(tr '\n' ' ' <"$dir/empty.txt"))"
base=$((20000 + (RANDOM % 5000) * 2))
"$b/nepnet" devnet up "$nodes" --dir "$dir/devnet" --base-port "$base" --nepnetd "$b/nepnetd" >/dev/null || exit 1
sleep 20 # discovery fills node-0's peer store
"$b/nepnet" devnet down --dir "$dir/devnet" >/dev/null
n=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(sum(c.execute('select count(*) from '+t).fetchone()[0] for (t,) in c.execute(\"select name from sqlite_master where type='table'\")))" "$dir/devnet/node-0/peers.sqlite")
for i in $(seq "$runs"); do ready_ms "$dir/devnet/node-0"; done >"$dir/full.txt"
echo "peer store of a $nodes-node devnet ($n rows): READY after $(median <"$dir/full.txt") ms (median of $runs; all: $(tr '\n' ' ' <"$dir/full.txt"))"
rm -rf "$dir/full"
mkdir -m 700 "$dir/full"
"$b/bench/peerstore_fill" "$dir/full/peers.sqlite" || exit 1
n=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(sum(c.execute('select count(*) from '+t).fetchone()[0] for (t,) in c.execute(\"select name from sqlite_master where type='table'\")))" "$dir/full/peers.sqlite")
for i in $(seq "$runs"); do ready_ms "$dir/full"; done >"$dir/cap.txt"
echo "peer store at its caps ($n rows, $(du -k "$dir/full/peers.sqlite" | cut -f1) KiB): READY after $(median <"$dir/cap.txt") ms (median of $runs; all: $(tr '\n' ' ' <"$dir/cap.txt"))"
