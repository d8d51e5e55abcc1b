#!/usr/bin/env bash
# A private I2P network of real i2pd routers (Debian 12's 2.45.1), for the I2P integration tests
# (issue 14), following ../shared/research/i2p-private-net.md: i2pd 2.45.1 refuses peers at
# reserved addresses (127/8, 10/8, ...), but not in 198.18.0.0/15 (a wrong bound in its reserved
# list), so each router gets a 198.18.0.N/32 on lo (root). A foreign network id (99), no reseed
# URLs and the routers' RouterInfos copied into each other's netDb keep it off the public I2P
# network; NTCP2 only (SSU2 off: a router that thinks it is firewalled drops its floodfill flag).
# 3 floodfills, 3 plain routers and CLIENTS routers with a SAM bridge on 127.0.0.1.
#
#   tests/i2p_privnet.sh start DIR [CLIENTS] [BASE_PORT]   start; wait until the SAM bridges answer
#   tests/i2p_privnet.sh stop DIR
#
# DIR/env sets SAM_i=127.0.0.1:PORT for client i, I2P_CLIENTS and I2P_UP_S. Needs root; exit
# 77 without i2pd or without root.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [CLIENTS] [BASE_PORT]" >&2; exit 2; }

stop_all() {
  local f
  for f in "$dir"/*/i2pd.pid; do
    [ -f "$f" ] || continue
    kill -9 "$(cat "$f")" 2>/dev/null || true # SIGTERM with SAM sessions open never finishes (2.45.1)
    rm -f "$f"
  done
  for a in $(ip -4 -o addr show dev lo 2>/dev/null | grep -o '198\.18\.0\.[0-9]*' || true); do
    ip addr del "$a/32" dev lo 2>/dev/null || true
  done
}

if [ "$cmd" = stop ]; then
  stop_all
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR [CLIENTS] [BASE_PORT]" >&2; exit 2; }
command -v i2pd >/dev/null || { echo "SKIP: i2pd is not installed (apt-get install i2pd)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the routers' 198.18.0.N addresses on lo need root"; exit 77; }
clients=${3:-2}
base=${4:-17000}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stop_all
t0=$(date +%s)

n=$((6 + clients))
conf() { # index
  local k=$1 d="$dir/r$1"
  local ff=false sam=false
  [ "$k" -lt 3 ] && ff=true
  [ "$k" -ge 6 ] && sam=true
  cat <<EOC
host = 198.18.0.$((10 + k))
nat = false
ipv4 = true
ipv6 = false
netid = 99
floodfill = $ff
bandwidth = X
notransit = false
daemon = true
log = file
logfile = $d/i2pd.log
loglevel = info
pidfile = $d/i2pd.pid
[ntcp2]
enabled = true
published = true
port = $((base + k))
[ssu2]
enabled = false
[http]
enabled = false
[httpproxy]
enabled = false
[socksproxy]
enabled = false
[sam]
enabled = $sam
address = 127.0.0.1
port = $((base + 100 + k))
singlethread = false
[bob]
enabled = false
[i2cp]
enabled = false
[i2pcontrol]
enabled = false
[upnp]
enabled = false
[reseed]
verify = false
urls =
yggurls =
threshold = 0
[addressbook]
enabled = true
subscriptions =
EOC
}

# 1. each router once, for its keys and RouterInfo
for ((k = 0; k < n; k++)); do
  d="$dir/r$k"
  rm -rf "$d"
  mkdir -p "$d"
  ip addr add "198.18.0.$((10 + k))/32" dev lo
  conf "$k" >"$d/i2pd.conf"
  i2pd --datadir "$d" --conf "$d/i2pd.conf" >/dev/null 2>&1
done
for ((k = 0; k < n; k++)); do
  for _ in $(seq 100); do [ -s "$dir/r$k/router.info" ] && break; sleep 0.1; done
  [ -s "$dir/r$k/router.info" ] || { echo "i2pd r$k made no router.info; see $dir/r$k/i2pd.log" >&2; exit 1; }
done
stop_all
for ((k = 0; k < n; k++)); do ip addr add "198.18.0.$((10 + k))/32" dev lo; done

# 2. every RouterInfo into every netDb (netDb/r<c>/routerInfo-<hash>.dat, hash = I2P base64 of the
#    SHA-256 of the router's identity: 387 bytes plus its certificate)
python3 - "$dir" "$n" <<'EOP'
import base64, hashlib, os, shutil, sys
d, n = sys.argv[1], int(sys.argv[2])
for k in range(n):
    ri = open(f"{d}/r{k}/router.info", "rb").read()
    ident = ri[:387 + int.from_bytes(ri[385:387], "big")]
    h = base64.b64encode(hashlib.sha256(ident).digest()).decode().replace("+", "-").replace("/", "~")
    for j in range(n):
        if j != k:
            sub = f"{d}/r{j}/netDb/r{h[0]}"
            os.makedirs(sub, exist_ok=True)
            shutil.copy(f"{d}/r{k}/router.info", f"{sub}/routerInfo-{h}.dat")
EOP

# 3. the network
for ((k = 0; k < n; k++)); do
  i2pd --datadir "$dir/r$k" --conf "$dir/r$k/i2pd.conf" >/dev/null 2>&1
done
# the SAM bridges answer HELLO once their router runs
for ((i = 0; i < clients; i++)); do
  p=$((base + 100 + 6 + i))
  ok=0
  for _ in $(seq 100); do
    if exec 3<>"/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
      printf 'HELLO VERSION MIN=3.1 MAX=3.1\n' >&3
      read -r -t 5 line <&3 || true
      exec 3<&- || true
      case "$line" in "HELLO REPLY RESULT=OK"*) ok=1; break ;; esac
    fi
    sleep 0.2
  done
  [ $ok = 1 ] || { echo "the SAM bridge of r$((6 + i)) does not answer; see $dir/r$((6 + i))/i2pd.log" >&2; exit 1; }
done
t1=$(date +%s)
{
  echo "I2P_CLIENTS=$clients"
  echo "I2P_UP_S=$((t1 - t0))"
  for ((i = 0; i < clients; i++)); do echo "SAM_$i=127.0.0.1:$((base + 100 + 6 + i))"; done
} >"$dir/env"
echo "private I2P network up in $((t1 - t0)) s: 3 floodfills, 3 routers, $clients with SAM ($dir/env)"
