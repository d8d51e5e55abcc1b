#!/usr/bin/env bash
# TURN, the way out of a network that blocks the rest (PROTOCOL.md 10.7), against coturn (a
# real, independent TURN server) started here, through a real firewall in network namespaces:
#
#   inet (203.0.113.0/24):  coturn .10 (TCP 3478)   host hb .20: node b (a relay)   host hc .21: node c
#   router ra (.30): masquerades its LAN (10.9.1.0/24) and rejects every connection from it
#                    except TCP to coturn: a censored or corporate network
#   node a (10.9.1.2): --turn-server coturn, its user and a 0600 password file; turn = auto
#
# Checked:
#   1. a's direct dials fail; within seconds it says so and dials through coturn (Allocate with
#      long-term credentials, CreatePermission, Connect, ConnectionBind: RFC 8656 and 6062);
#   2. the channel a-b runs end to end over the TURN connection: b sees a at coturn's relayed
#      address; a reserves at b (a nepnet relay) over it, so c reaches a through b;
#   3. transactions a -> b, a -> c (through b's relay, over TURN) and c -> a;
#   4. `nepnet status` and GET /v1/nat say TURN is in use and why; coturn's own log has the
#      allocation; a password file readable by others is refused at start.
# Needs root (CI runs as root); skipped (77) without.
#   cli_nat_turn.sh NEPNETD NEPNET [OUT_DIR]
set -uo pipefail
nepnetd=$1 cli=$2 outdir=${3:-}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi
for t in ip iptables curl turnserver; do
  command -v $t >/dev/null || { echo "FAIL: $t is not installed (./bootstrap installs it)"; exit 1; }
done
p="nt$(($$ % 100000))"
inet="${p}i" ra="${p}ra" ha="${p}ha" dir=$(mktemp -d /tmp/nn-natturn-XXXXXX)
spawned=()
cleanup() {
  for pid in "${spawned[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${spawned[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for ns in $(ip netns list | awk '{print $1}' | grep "^${p}"); do ip netns del "$ns" 2>/dev/null; done
  [ -n "$outdir" ] && mkdir -p "$outdir" && cp "$dir"/*.log "$outdir"/ 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.log; do [ -f "$f" ] && { echo "--- $f"; grep -v '^$' "$f" | tail -n 20; }; done
  exit 1
}
x() { "$@" || fail "command failed: $*"; }

# A password file others can read is refused, naming the file and the fix.
mkdir -p "$dir/bad"
printf 'hunter2\n' > "$dir/pw-open"
chmod 644 "$dir/pw-open"
out=$("$nepnetd" --datadir "$dir/bad" --network regtest --listen 127.0.0.1:0 --api off --mixnet 0 \
  --turn-server 127.0.0.1:3478 --turn-user alice --turn-password-file "$dir/pw-open" 2>&1)
[ $? -ne 0 ] && grep -q "turn-password-file $dir/pw-open is readable by group or others: chmod 600" <<<"$out" ||
  fail "a password file of mode 0644 was not refused: $out"
echo "refused: $(grep -o 'turn-password-file.*' <<<"$out" | head -n 1)"

x ip netns add "$inet"
x ip -n "$inet" link set lo up
x ip -n "$inet" link add br0 type bridge
x ip -n "$inet" link set br0 up
x ip -n "$inet" addr add 203.0.113.10/24 dev br0
host() { # ns addr: a host of its own on the bridge (its connections come from its own address)
  x ip netns add "$1"
  x ip -n "$1" link set lo up
  x ip link add eth0 netns "$1" type veth peer name "${1}v" netns "$inet"
  x ip -n "$inet" link set "${1}v" master br0 up
  x ip -n "$1" addr add "$2/24" dev eth0
  x ip -n "$1" link set eth0 up
}
hb="${p}hb" hc="${p}hc"
host "$hb" 203.0.113.20
host "$hc" 203.0.113.21
x ip netns add "$ra"
x ip netns add "$ha"
x ip -n "$ra" link set lo up
x ip -n "$ha" link set lo up
x ip link add wan netns "$ra" type veth peer name "${p}rav" netns "$inet"
x ip -n "$inet" link set "${p}rav" master br0 up
x ip -n "$ra" addr add 203.0.113.30/24 dev wan
x ip -n "$ra" link set wan up
x ip link add lan netns "$ra" type veth peer name eth0 netns "$ha"
x ip -n "$ra" addr add 10.9.1.1/24 dev lan
x ip -n "$ra" link set lan up
x ip -n "$ha" addr add 10.9.1.2/24 dev eth0
x ip -n "$ha" link set eth0 up
x ip -n "$ha" route add default via 10.9.1.1
x ip netns exec "$ra" sysctl -qw net.ipv4.ip_forward=1
x ip netns exec "$ra" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
x ip netns exec "$ra" iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
x ip netns exec "$ra" iptables -A FORWARD -i lan -p tcp -d 203.0.113.10 --dport 3478 -j ACCEPT
x ip netns exec "$ra" iptables -A FORWARD -i lan -p tcp -j REJECT --reject-with tcp-reset
x ip netns exec "$ra" iptables -A FORWARD -j REJECT
x ip netns exec "$ra" iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP

# coturn: long-term credentials, TCP only, TCP relaying (RFC 6062) on its own address.
pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
ip netns exec "$inet" turnserver -n -v --no-tls --no-dtls --no-udp --no-cli -a -u "alice:$pass" -r nepnet.test \
  -L 203.0.113.10 --relay-ip 203.0.113.10 --listening-port 3478 --simple-log --log-file "$dir/coturn.log" \
  --pidfile "$dir/coturn.pid" --db "$dir/turndb" > "$dir/turnserver.log" 2>&1 &
spawned+=($!)
printf '%s\n' "$pass" > "$dir/pw"
chmod 600 "$dir/pw"

start() { # ns name args...
  local ns=$1 name=$2
  shift 2
  mkdir -p "$dir/$name"
  ip netns exec "$ns" "$nepnetd" --datadir "$dir/$name" --network regtest --api "127.0.0.1:9801" --mixnet 0 \
    --log-level ${NN_LOG:-info} --route direct --inv-delay-out-ms 0 "$@" > "$dir/$name.log" 2>&1 &
  spawned+=($!)
}
nodeid() { "$cli" --datadir "$dir/$1" identity 2>/dev/null | grep -o '[0-9a-f]\{64\}' | head -n 1; }
api() { # ns name path
  ip netns exec "$1" curl -sS -m 5 -H "Authorization: Bearer $(cat "$dir/$2/api.token")" "http://127.0.0.1:9801$3"
}
for n in a b c; do mkdir -p "$dir/$n"; done
aid=$(nodeid a) bid=$(nodeid b) cid=$(nodeid c)
[ -n "$aid" ] && [ -n "$bid" ] && [ -n "$cid" ] || fail "no node ids"
b="$bid@203.0.113.20:9800"
start "$hb" b --listen 203.0.113.20:9800
t0=$(date +%s%N)
start "$ha" a --listen 0.0.0.0:9800 --peer "$b" --relay-via "$b" --turn-server 203.0.113.10:3478 --turn-user alice \
  --turn-password-file "$dir/pw"

# 1. a finds that direct TCP fails and turns to coturn
turn_in_use() { api "$ha" a /v1/nat 2>/dev/null | tr -d ' \n' | grep -q '"turn":{[^}]*"engaged":true'; }
for _ in $(seq 300); do turn_in_use && break; sleep 0.1; done
turn_in_use || fail "a did not start dialling through TURN"
t1=$(date +%s%N)
grep -q "dials go through the TURN server (turn = auto)" "$dir/a.log" || fail "a did not log why it uses TURN"
echo "a uses TURN after $(((t1 - t0) / 1000000)) ms: $(grep -o 'no direct TCP channel.*' "$dir/a.log" | head -n 1)"

# 2. a's channel to b through coturn, and a reservation at b over it
reserved() { api "$ha" a /v1/nat 2>/dev/null | tr -d ' \n' | grep -q '"client":{"reserve":true,"reservations":[1-9]'; }
for _ in $(seq 200); do reserved && break; sleep 0.1; done
reserved || fail "a holds no reservation at b (through TURN)"
relayed=$(api "$ha" a /v1/nat | tr -d ' \n' | grep -o '"relayed":"203.0.113.10:[0-9]*"' | cut -d'"' -f4)
[ -n "$relayed" ] || fail "a has no relayed address at coturn"
b_sees_a() { api "$hb" b /v1/peers 2>/dev/null | tr -d ' \n' | grep -q "\"node_id\":\"$aid\",\"addr\":\"$relayed\""; }
for _ in $(seq 300); do b_sees_a && break; sleep 0.1; done
b_sees_a || fail "b does not see a at coturn's relayed address $relayed: $(api "$hb" b /v1/peers)"
echo "b sees a at $relayed (coturn's relayed address); a holds a reservation at b"

# 3. c reaches a through b's relay (over a's TURN connection); transactions both ways
start "$hc" c --listen 203.0.113.21:9800 --peer "$b" --connect "$aid@$bid.relay:0"
has_a() { api "$hc" c /v1/peers 2>/dev/null | tr -d ' \n' | grep -q "\"node_id\":\"$aid\""; }
for _ in $(seq 200); do has_a && break; sleep 0.1; done
has_a || fail "c has no channel to a through b's relay"
head -c 3000 /dev/urandom > "$dir/tx-a"
head -c 3000 /dev/urandom > "$dir/tx-c"
x ip netns exec "$ha" "$cli" --datadir "$dir/a" send "$dir/tx-a" > /dev/null
x ip netns exec "$hc" "$cli" --datadir "$dir/c" send "$dir/tx-c" > /dev/null
got() { # ns name from: a transaction that came straight from node \a from
  api "$1" "$2" "/v1/txs?since=0" 2>/dev/null | tr -d ' \n' | grep -o '"from":"[0-9a-f]*"' | grep -q "$3"
}
for _ in $(seq 150); do got "$hb" b "$aid" && got "$hc" c "$aid" && got "$ha" a "$cid" && break; sleep 0.1; done
got "$hb" b "$aid" || fail "b did not receive a's transaction from a"
got "$hc" c "$aid" || fail "c did not receive a's transaction from a (through b's relay)"
got "$ha" a "$cid" || fail "a did not receive c's transaction from c"
echo "transactions: a -> b, a -> c and c -> a, over TURN"

# 4. what an operator sees, and coturn's side
st=$(ip netns exec "$ha" "$cli" --datadir "$dir/a" status 2>&1)
grep -q "^turn       allocated $relayed at 203.0.113.10:3478, in use; [1-9][0-9]* stream" <<<"$st" ||
  fail "nepnet status of a: $st"
grep "^turn " <<<"$st" | sed 's/^/  a: /'
n=$(api "$ha" a /v1/nat | tr -d ' \n' | grep -o '"server_stats":{[^}]*}')
grep -q '"malformed":0' <<<"$n" && grep -q '"binds":[1-9]' <<<"$n" || fail "a's TURN counters: $n"
echo "  a's TURN counters: $n"
# a stops: it releases its allocation (Refresh with lifetime 0) rather than leave it to expire
kill -TERM "${spawned[2]}"
for _ in $(seq 50); do grep -q "REFRESH processed, success" "$dir/coturn.log" && break; sleep 0.1; done
grep -q "REFRESH processed, success" "$dir/coturn.log" || fail "a did not release its allocation at exit"
grep -q "username=<alice>" "$dir/coturn.log" || fail "coturn's log has no session of alice"
grep -m 4 -o "session [0-9]*: .*username=<alice>.*" "$dir/coturn.log" | cut -c1-160 | sed 's/^/  coturn: /'
echo PASS
