#!/usr/bin/env bash
# Tor for nepnetd (issue 14, PROTOCOL.md 11) against real tor: a private Tor network on loopback
# (tor_privnet.sh: 3 authorities, 3 exit relays, 2 clients), and three nodes:
#
#   c  clearnet 127.0.0.1:PC, and through tor client 1's SOCKS port to a's onion service
#   b  dual stack: 127.0.0.1:PB and an onion service through tor client 1's control port
#      (SAFECOOKIE); its record names both addresses
#   a  tor-only, through tor client 0 (control port with a password: a runs as another user,
#      who cannot read tor's cookie), knows only b's .onion address; runs as uid $uid so that
#      nftables can hand every packet it sends to tcpdump (NFLOG); its API is a unix socket
#
# Checked:
#   1. b's onion service comes up; a connects to it (the secure channel inside the Tor stream,
#      node ids checked as on TCP); a's own onion service comes up and b sees a there
#   2. transactions a -> b and b -> a
#   3. tx-proxy: b's own transaction goes to its Tor peers only, and reaches c through them
#   3. b restarts: the saved key (0600) brings the same .onion back, and a reconnects to it
#   4. the capture: every packet a sent went to its tor (SOCKS, control) or answered tor on a's
#      onion target port; none to b's or c's clearnet port, though a learnt c's clearnet
#      address from the DHT and refused to dial it (onlynet)
#   5. an onion key file others can read is refused at start; a tor-only node without tor too
#   6. private broadcast (c) and link padding (a) on real tor; b's tor restarts and b's control
#      connection comes back by itself with the same .onion
# Prints the times (bench figures for the closing note). Root (CI is); skipped (77) without
# root or tor.
#   cli_tor.sh NEPNETD NEPNET [OUT_DIR]
set -uo pipefail
nepnetd=$1 cli=$2 outdir=${3:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the capture and another user need root"; exit 77; fi
command -v tor >/dev/null || [ -x /usr/sbin/tor ] || { echo "SKIP: tor is not installed"; exit 77; }
for t in curl nft tcpdump setpriv; do
  command -v $t >/dev/null || { echo "FAIL: $t is not installed (./bootstrap installs it)"; exit 1; }
done
dir=$(mktemp -d /tmp/nn-tor-XXXXXX)
chmod 755 "$dir"
uid=$((61000 + $$ % 1000))
table="nntor$$"
spawned=()
declare -A pids
cleanup() {
  for pid in "${spawned[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${spawned[@]}"; do kill -9 "$pid" 2>/dev/null; done
  nft delete table inet "$table" 2>/dev/null
  bash "$here/tor_privnet.sh" stop "$dir/tor"
  [ -n "$outdir" ] && mkdir -p "$outdir" && cp "$dir"/*.log "$dir"/*.txt "$outdir"/ 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.log; do [ -f "$f" ] && { echo "--- $f"; grep -v '^$' "$f" | tail -n 25; }; done
  exit 1
}
x() { "$@" || fail "command failed: $*"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# 5. refusals at start, before anything runs
mkdir -p "$dir/bad"
chmod 700 "$dir/bad"
printf 'ED25519-V3:AAAA\n' > "$dir/bad/onion_v3_private_key"
chmod 644 "$dir/bad/onion_v3_private_key"
out=$("$nepnetd" --datadir "$dir/bad" --network regtest --listen 127.0.0.1:0 --api off --mixnet 0 \
  --tor-control 127.0.0.1:1 2>&1)
[ $? -ne 0 ] && grep -q "onion key file $dir/bad/onion_v3_private_key is readable by others: chmod 600" <<<"$out" ||
  fail "an onion key file of mode 0644 was not refused: $out"
echo "refused: $(grep -o 'onion key file.*' <<<"$out" | head -n 1)"
out=$("$nepnetd" --datadir "$dir/bad" --network regtest --api off --mixnet 0 --tor-only 1 2>&1)
[ $? -ne 0 ] && grep -q "tor-only needs tor: set tor-control" <<<"$out" || fail "tor-only without tor started: $out"
echo "refused: $(grep -o 'tor-only needs.*' <<<"$out" | head -n 1)"

pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOR_PRIVNET_PASSWORD=$pw bash "$here/tor_privnet.sh" start "$dir/tor" 2 || fail "the private Tor network did not start"
# shellcheck disable=SC1091
. "$dir/tor/env"

declare -A ports
start() { # name args...: a node, its API on a port of its own
  local name=$1
  shift
  mkdir -p "$dir/$name"
  "$nepnetd" --datadir "$dir/$name" --network regtest --api "127.0.0.1:${ports[$name]}" --mixnet 0 \
    --allow-private 1 --log-level ${NN_LOG:-info} --route direct --inv-delay-out-ms 0 --inv-delay-in-ms 0 "$@" \
    >> "$dir/$name.log" 2>&1 &
  spawned+=($!)
  pids[$name]=$!
}
start_as() { # uid name args...: the same, as another user
  local u=$1 name=$2
  shift 2
  setpriv --reuid="$u" --regid="$u" --clear-groups "$nepnetd" --datadir "$dir/$name" --network regtest \
    --api "unix:$dir/$name/api.sock" --mixnet 0 --allow-private 1 --log-level ${NN_LOG:-info} --route direct \
    --inv-delay-out-ms 0 --inv-delay-in-ms 0 "$@" >> "$dir/$name.log" 2>&1 &
  spawned+=($!)
  pids[$name]=$!
}
nodeid() { "$cli" --datadir "$dir/$1" identity 2>/dev/null | grep -o '[0-9a-f]\{64\}' | head -n 1; }
api() { # name path (a's API is a unix socket: its capture holds nothing but its tor traffic)
  local via=(http://127.0.0.1:${ports[$1]}$2)
  [ "$1" = a ] && via=(--unix-socket "$dir/a/api.sock" "http://localhost$2")
  curl -sS -m 5 -H "Authorization: Bearer $(cat "$dir/$1/api.token" 2>/dev/null)" "${via[@]}"
}
onion_of() { api "$1" /v1/nat 2>/dev/null | tr -d ' \n' | grep -o '"onion":"[a-z2-7]*\.onion:[0-9]*"' | cut -d'"' -f4; }
has_peer() { api "$1" /v1/peers 2>/dev/null | tr -d ' \n' | grep -q "\"node_id\":\"$2\""; }
ports[a]=$((20000 + $$ % 5000))
ports[b]=$((ports[a] + 1))
ports[c]=$((ports[a] + 2))
pb=$((ports[a] + 3)) pc=$((ports[a] + 4))
for n in a b c; do mkdir -p "$dir/$n"; done
aid=$(nodeid a) bid=$(nodeid b) cid=$(nodeid c)
[ -n "$aid" ] && [ -n "$bid" ] && [ -n "$cid" ] || fail "no node ids"
chown -R "$uid:$uid" "$dir/a"
printf '%s\n' "$pw" > "$dir/a/tor.password"
chown "$uid:$uid" "$dir/a/tor.password"
chmod 600 "$dir/a/tor.password"

t0=$(ms)
start b --listen "127.0.0.1:$pb" --peer "$cid@127.0.0.1:$pc" --tor-control "$TOR_CONTROL_1" --tor-socks "$TOR_SOCKS_1"

# 1. b's onion service
for _ in $(seq 600); do [ -n "$(onion_of b)" ] && break; sleep 0.1; done
bon=$(onion_of b)
[ -n "$bon" ] || fail "b's onion service did not come up: $(api b /v1/nat | tr -d '\n' | grep -o '"tor":{[^}]*}')"
t1=$(ms)
grep -q "onion service $bon is up (a new key" "$dir/b.log" || fail "b did not log its new onion service"
[ "$(stat -c %a "$dir/b/onion_v3_private_key")" = 600 ] || fail "b's onion key file is not 0600"
echo "b: onion service $bon up $((t1 - t0)) ms after start (control port: SAFECOOKIE)"
rec=$(api b /v1/status | tr -d ' \n' | grep -o '"peer":"[^"]*"')
grep -q "127.0.0.1:$pb" <<<"$rec" || fail "b's status names no clearnet address: $rec"

# a, tor-only, as another user, with every packet it sends captured
nft -f - <<EOF || fail "nftables"
table inet $table {
  chain out {
    type filter hook output priority 0; policy accept;
    meta skuid $uid log group 77
    meta skuid $uid counter
  }
}
EOF
tcpdump -i nflog:77 -U -w "$dir/a.pcap" > "$dir/tcpdump.log" 2>&1 &
tcpdump_pid=$!
spawned+=($tcpdump_pid)
sleep 1
t2=$(ms)
start_as "$uid" a --tor-only 1 --tor-control "$TOR_CONTROL_0" --tor-password-file "$dir/a/tor.password" \
  --link-padding-ms 20 \
  --peer "$bid@$bon"
for _ in $(seq 900); do has_peer a "$bid" && break; sleep 0.1; done
has_peer a "$bid" || fail "a (tor-only) did not connect to b's onion service"
t3=$(ms)
path=$(api a /v1/peers | tr -d ' \n' | grep -o "\"node_id\":\"$bid\",\"addr\":\"[^\"]*\"[^}]*\"path\":\"[a-z]*\"")
grep -q '"path":"tor"' <<<"$path" || fail "a's channel to b is not over tor: $path"
echo "a: connected to b over tor $((t3 - t2)) ms after start (control port: password; SOCKS from GETINFO)"
for _ in $(seq 600); do [ -n "$(onion_of a)" ] && break; sleep 0.1; done
aon=$(onion_of a)
[ -n "$aon" ] || fail "a's onion service did not come up"
t4=$(ms)
echo "a: onion service $aon up $((t4 - t2)) ms after start"
# c: clearnet, and a Tor client with no service of its own, reaching a's onion service
start c --listen "127.0.0.1:$pc" --tor-socks "$TOR_SOCKS_1" --onion 0 --peer "$aid@$aon" --private-broadcast 2
for _ in $(seq 600); do has_peer c "$aid" && has_peer b "$cid" && break; sleep 0.1; done
has_peer c "$aid" || fail "c did not reach a's onion service"
has_peer b "$cid" || fail "b has no channel with c"
grep -q '"peer":"'"$aid@$aon"'"' <<<"$(api a /v1/status | tr -d ' \n')" || fail "a's status does not name its onion"
for _ in $(seq 300); do has_peer b "$aid" && break; sleep 0.1; done
has_peer b "$aid" || fail "b has no gossip channel with a"
grep -q '"addr":"onion-service"' <<<"$(api b /v1/peers | tr -d ' \n')" ||
  echo "note: b's channel with a is b's outbound one (to $aon)"

# 2. transactions both ways
head -c 3000 /dev/urandom > "$dir/tx-a"
head -c 3000 /dev/urandom > "$dir/tx-b"
got() { api "$1" "/v1/txs?since=0" 2>/dev/null | tr -d ' \n' | grep -o '"from":"[0-9a-f]*"' | grep -q "$2"; }
ts=$(ms)
curl -sS -m 5 -H "Authorization: Bearer $(cat "$dir/a/api.token")" -H 'Content-Type: application/octet-stream' \
  --data-binary @"$dir/tx-a" --unix-socket "$dir/a/api.sock" http://localhost/v1/tx > /dev/null || fail "a: POST /v1/tx"
x "$cli" --datadir "$dir/b" send "$dir/tx-b" > /dev/null
for _ in $(seq 300); do got b "$aid" && got a "$bid" && break; sleep 0.1; done
got b "$aid" || fail "b did not receive a's transaction from a"
got a "$bid" || fail "a did not receive b's transaction from b"
echo "transactions: a -> b and b -> a over tor in $(($(ms) - ts)) ms"

# 3. b restarts: the same .onion, and a comes back to it
kill -TERM "${pids[b]}"
for _ in $(seq 100); do kill -0 "${pids[b]}" 2>/dev/null || break; sleep 0.1; done
for _ in $(seq 300); do has_peer a "$bid" || break; sleep 0.1; done
t5=$(ms)
start b --listen "127.0.0.1:$pb" --peer "$cid@127.0.0.1:$pc" --tor-control "$TOR_CONTROL_1" --tor-socks "$TOR_SOCKS_1" \
  --tx-proxy 1
for _ in $(seq 600); do [ -n "$(onion_of b)" ] && break; sleep 0.1; done
bon2=$(onion_of b)
[ "$bon2" = "$bon" ] || fail "b's onion address changed over a restart: $bon -> $bon2"
grep -q "onion service $bon is up (the saved key" "$dir/b.log" || fail "b did not use its saved key"
t6=$(ms)
for _ in $(seq 1200); do has_peer a "$bid" && break; sleep 0.1; done
has_peer a "$bid" || fail "a did not reconnect to b after b's restart"
t7=$(ms)
echo "b restarted: the same $bon up in $((t6 - t5)) ms; a reconnected $((t7 - t6)) ms later"

# tx-proxy: b's own transaction goes to its Tor peers only, and reaches c (clearnet) through them
head -c 2000 /dev/urandom > "$dir/tx-b2"
txb2=$("$cli" --datadir "$dir/b" send "$dir/tx-b2" 2>&1 | grep -o '[0-9a-f]\{64\}' | head -n 1)
[ -n "$txb2" ] || fail "b: send printed no transaction id"
c_has() { api c "/v1/txs?since=0" 2>/dev/null | tr -d ' \n' | grep -q "$txb2"; }
for _ in $(seq 900); do c_has && break; sleep 0.1; done
peers_b=$(api b /v1/peers | tr -d ' \n')
per_peer=$(sed 's/},{/}\n{/g' <<<"$peers_b")
c_stems=$(grep "\"node_id\":\"$cid\"" <<<"$per_peer" | grep -o '"stems_out":[0-9]*' | cut -d: -f2)
t_stems=$(grep '"path":"tor"' <<<"$per_peer" | grep -o '"stems_out":[0-9]*' | cut -d: -f2 | awk '{n += $1} END {print n + 0}')
[ "${c_stems:-0}" = 0 ] || fail "tx-proxy: b stemmed to its clearnet peer c ($c_stems)"
[ "${t_stems:-0}" -ge 1 ] || fail "tx-proxy: b stemmed nothing to a Tor peer: $peers_b"
grep -q "route tx-proxy (Tor/I2P peers only)" "$dir/b.log" || fail "b did not log its tx-proxy submission"
c_has || fail "c (clearnet) never received b's transaction sent over Tor"
echo "tx-proxy: b's transaction went to Tor peers only ($t_stems stem(s), 0 to c), and reached c through them"

# private broadcast: c's own transaction goes to a over a one-use anonymous channel; b gets it,
# and no node's mempool names c as the one it came from
head -c 1500 /dev/urandom > "$dir/tx-c"
txc=$("$cli" --datadir "$dir/c" send "$dir/tx-c" 2>&1 | grep -o '[0-9a-f]\{64\}' | head -n 1)
[ -n "$txc" ] || fail "c: send printed no transaction id"
b_has() { api b "/v1/txs?since=0" 2>/dev/null | tr -d ' \n' | grep -q "$txc"; }
for _ in $(seq 900); do b_has && break; sleep 0.1; done
b_has || fail "b never received c's privately broadcast transaction"
pbs=$(api c /metrics | grep '^nepnet_private_broadcast_sent_total' | awk '{print $2}')
[ "${pbs:-0}" -ge 1 ] || fail "c sent nothing over a one-use channel: $(api c /metrics | grep private_broadcast)"
for n in a b; do
  api "$n" "/v1/txs?since=0" | tr -d ' \n' | sed 's/},{/}\n{/g' | grep "$txc" | grep -q "\"from\":\"$cid\"" &&
    fail "$n's mempool says c's transaction came from c"
done
echo "private broadcast: c's transaction left over $pbs one-use anonymous channel(s); b has it, nobody names c"

# b's tor restarts: b's control connection comes back by itself (backoff), with the same .onion
tpid=$(cat "$dir/tor/c1/pid")
kill "$tpid"
for _ in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
for _ in $(seq 100); do [ -z "$(onion_of b)" ] && break; sleep 0.1; done
[ -z "$(onion_of b)" ] || fail "b still names its onion service with its tor gone"
t8=$(ms)
/usr/sbin/tor -f "$dir/tor/c1/torrc" --quiet > /dev/null 2>&1 || tor -f "$dir/tor/c1/torrc" --quiet > /dev/null 2>&1 ||
  fail "cannot start tor client 1 again"
for _ in $(seq 600); do [ "$(onion_of b)" = "$bon" ] && break; sleep 0.1; done
[ "$(onion_of b)" = "$bon" ] || fail "b's onion service did not come back after its tor restarted"
cc=$(api b /metrics | grep '^nepnet_tor_control_connects_total' | awk '{print $2}')
[ "${cc:-0}" -ge 2 ] || fail "b's control connection count: ${cc:-none}"
grep -q "control port .*trying again in" "$dir/b.log" || fail "b did not say it would retry the control port"
echo "b's tor restarted: b reconnected to its control port by itself and $bon was back in $(($(ms) - t8)) ms"

# 4. the capture: everything a sent went to its tor
sleep 2
refused=$(api a /metrics | grep '^nepnet_dials_refused_net_total' | awk '{print $2}')
kill -TERM "${pids[a]}"
for _ in $(seq 100); do kill -0 "${pids[a]}" 2>/dev/null || break; sleep 0.1; done
sleep 1
kill -INT "$tcpdump_pid" 2>/dev/null
sleep 1
target=$(grep -o 'forwarding to 127.0.0.1:[0-9]*' "$dir/a.log" | head -n 1 | cut -d: -f2)
socks0=${TOR_SOCKS_0##*:} ctl0=${TOR_CONTROL_0##*:}
[ -n "$target" ] || fail "a logged no onion target port"
tcpdump -nn -r "$dir/a.pcap" 2>/dev/null > "$dir/a-capture.txt"
total=$(wc -l < "$dir/a-capture.txt")
[ "$total" -gt 20 ] || fail "the capture of a's packets has $total packets: $(head -n 3 "$dir/a-capture.txt")"
# "IP 127.0.0.1.SPORT > 127.0.0.1.DPORT: ..." : to tor's SOCKS or control port, or from our onion target
awk -v s="$socks0" -v c="$ctl0" -v t="$target" '{
  split($3, src, "."); split($5, dst, "."); sub(":", "", dst[5]);
  ok = ($2 == "IP" && src[1] "." src[2] "." src[3] "." src[4] == "127.0.0.1" &&
        dst[1] "." dst[2] "." dst[3] "." dst[4] == "127.0.0.1" && (dst[5] == s || dst[5] == c || src[5] == t));
  if (!ok) print
}' "$dir/a-capture.txt" > "$dir/a-elsewhere.txt"
other=$(wc -l < "$dir/a-elsewhere.txt")
to_socks=$(awk -v s="$socks0" '{split($5, d, "."); sub(":", "", d[5]); if (d[5] == s) n++} END {print n + 0}' "$dir/a-capture.txt")
[ "$other" -eq 0 ] || fail "a (tor-only) sent $other packets elsewhere than its tor: $(head -n 5 "$dir/a-elsewhere.txt")"
grep -q "127.0.0.1.$pb\b\|127.0.0.1.$pc\b" "$dir/a-capture.txt" && fail "a sent to a clearnet peer port"
[ "${refused:-0}" -gt 0 ] || echo "note: a never had a clearnet address to refuse (nepnet_dials_refused_net_total 0)"
echo "capture: $total packets from a, $to_socks to tor's SOCKS port, 0 elsewhere (clearnet dials refused: ${refused:-0})"
echo PASS
