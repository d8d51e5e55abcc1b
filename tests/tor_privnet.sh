#!/usr/bin/env bash
# A private Tor network on loopback, for the Tor integration tests (issue 14) and benchmarks:
# 3 directory authorities, 3 relays (exits for 127.0.0.0/8, so Tor-only nodes can reach
# loopback peers through them) and N clients, each client with a SocksPort and a ControlPort
# (cookie authentication), all real `tor` processes (Debian's package) in TestingTorNetwork mode,
# as chutney's hs-v3 networks are. Nothing leaves 127.0.0.1.
#
#   tests/tor_privnet.sh start DIR [CLIENTS] [BASE_PORT]   start, wait for every client to
#                                                          bootstrap, write DIR/env
#   tests/tor_privnet.sh stop DIR                          stop every tor of DIR
#
# DIR/env sets, for client i (0-based): TOR_SOCKS_i=127.0.0.1:PORT, TOR_CONTROL_i=127.0.0.1:PORT,
# TOR_COOKIE_i=FILE, and TOR_CLIENTS=N, TOR_BOOTSTRAP_S (seconds until every client reached 100%).
# With TOR_PRIVNET_PASSWORD set, the control ports also take that password (HashedControlPassword),
# for a controller that cannot read the cookie file (another user).
# Ports: BASE_PORT (default 15500) + 0..99. Exit status 77 when tor or tor-gencert is missing.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [CLIENTS] [BASE_PORT]" >&2; exit 2; }

stop_all() {
  local f pid
  for f in "$dir"/*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for f in "$dir"/*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

if [ "$cmd" = stop ]; then
  stop_all
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR [CLIENTS] [BASE_PORT]" >&2; exit 2; }
for t in tor tor-gencert; do
  command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "SKIP: $t is not installed (apt-get install tor)"; exit 77; }
done
TOR=$(command -v tor || echo /usr/sbin/tor)
clients=${3:-2}
base=${4:-15500}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
hashed=""
[ -n "${TOR_PRIVNET_PASSWORD:-}" ] && hashed=$("$TOR" --quiet --hash-password "$TOR_PRIVNET_PASSWORD" | tail -n 1)
stop_all
t0=$(date +%s)

# nodes: a0..a2 authorities, r0..r2 relays, c0..c(N-1) clients; node k uses ports base+k*5+{0..4}
nodes=(a0 a1 a2 r0 r1 r2)
for ((i = 0; i < clients; i++)); do nodes+=("c$i"); done
port() { echo $((base + $1 * 5 + $2)); } # node index, 0 or 1 dir 2 socks 3 control

dirauth=""
for k in 0 1 2; do
  d="$dir/a$k"
  rm -rf "$d"
  mkdir -p "$d/keys"
  chmod 700 "$d"
  (cd "$d/keys" && echo "" | tor-gencert --create-identity-key --passphrase-fd 0 -m 12 \
     -a "127.0.0.1:$(port $k 1)" >/dev/null 2>&1) || { echo "tor-gencert failed for a$k" >&2; exit 1; }
  v3=$(grep '^fingerprint ' "$d/keys/authority_certificate" | cut -d' ' -f2)
  fpr=$("$TOR" --ignore-missing-torrc -f "$d/none" --DataDirectory "$d" --ORPort 1 --list-fingerprint \
        --quiet 2>/dev/null | tail -n 1 | awk '{ $1 = ""; gsub(/ /, ""); print }')
  [ -n "$v3" ] && [ -n "$fpr" ] || { echo "no fingerprints for a$k" >&2; exit 1; }
  dirauth+="DirAuthority a$k orport=$(port $k 0) no-v2 v3ident=$v3 127.0.0.1:$(port $k 1) $fpr"$'\n'
done

for k in "${!nodes[@]}"; do
  n=${nodes[$k]}
  d="$dir/$n"
  [ "${n:0:1}" = a ] || { rm -rf "$d"; mkdir -p "$d"; chmod 700 "$d"; }
  {
    cat <<EOF
TestingTorNetwork 1
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
DataDirectory $d
RunAsDaemon 1
PidFile $d/pid
Nickname $n
Log notice file $d/notice.log
Sandbox 0
ShutdownWaitLength 0
SafeLogging 0
$dirauth
EOF
    case $n in
    a*)
      cat <<EOF
SocksPort 0
OrPort $(port $k 0)
DirPort $(port $k 1)
Address 127.0.0.1
ExitRelay 0
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
ContactInfo nepnet-test@example.invalid
AssumeReachable 1
TestingV3AuthInitialVotingInterval 20
TestingV3AuthInitialVoteDelay 4
TestingV3AuthInitialDistDelay 4
V3AuthVotingInterval 20
V3AuthVoteDelay 4
V3AuthDistDelay 4
EOF
      ;;
    r*)
      cat <<EOF
SocksPort 0
OrPort $(port $k 0)
DirPort $(port $k 1)
Address 127.0.0.1
AssumeReachable 1
ExitRelay 1
ExitPolicyRejectPrivate 0
ExitPolicyRejectLocalInterfaces 0
ExitPolicy accept 127.0.0.0/8:*
ExitPolicy reject *:*
ServerDNSDetectHijacking 0
ServerDNSTestAddresses
EOF
      ;;
    c*)
      cat <<EOF
SocksPort 127.0.0.1:$(port $k 2) ExtendedErrors
ControlPort 127.0.0.1:$(port $k 3)
CookieAuthentication 1
EOF
      [ -z "$hashed" ] || echo "HashedControlPassword $hashed"
      ;;
    esac
  } >"$d/torrc"
  "$TOR" -f "$d/torrc" --quiet >"$d/start.log" 2>&1 || { echo "tor $n did not start:" >&2; cat "$d/start.log" "$d/notice.log" >&2 2>/dev/null; exit 1; }
done

# every client at 100%; then a little more, since the first consensus may not yet allow paths
ok=0
for _ in $(seq 300); do
  ok=1
  for ((i = 0; i < clients; i++)); do
    grep -q 'Bootstrapped 100%' "$dir/c$i/notice.log" 2>/dev/null || ok=0
  done
  [ $ok = 1 ] && break
  sleep 1
done
[ $ok = 1 ] || { echo "the private Tor network did not bootstrap in 300 s; logs in $dir/*/notice.log" >&2; exit 1; }
t1=$(date +%s)
{
  echo "TOR_CLIENTS=$clients"
  echo "TOR_BOOTSTRAP_S=$((t1 - t0))"
  for ((i = 0; i < clients; i++)); do
    k=$((6 + i))
    echo "TOR_SOCKS_$i=127.0.0.1:$(port $k 2)"
    echo "TOR_CONTROL_$i=127.0.0.1:$(port $k 3)"
    echo "TOR_COOKIE_$i=$dir/c$i/control_auth_cookie"
  done
} >"$dir/env"
echo "private Tor network up in $((t1 - t0)) s: 3 authorities, 3 relays, $clients clients ($dir/env)"
