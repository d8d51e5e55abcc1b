#!/usr/bin/env bash
# STUN interoperation with coturn, a real and independent implementation, both ways, on loopback
# with two addresses (127.0.0.1 and 127.0.0.2) so that RFC 5780's CHANGE-REQUEST works:
#   1. `nepnet nat discover` against coturn's turnserver: no NAT on loopback, endpoint-
#      independent filtering, coturn's OTHER-ADDRESS used;
#   2. coturn's own RFC 5780 client (turnutils_natdiscovery) against `nepnet nat stun-server`:
#      it must find endpoint-independent mapping and filtering through our answers;
#   3. malformed datagrams to our server are counted and never answered;
#   4. nepnetd, both roles on its own port: its RFC 5780 discovery against coturn at start, and
#      its STUN server answering `nepnet nat discover`.
#   cli_nat_coturn.sh NEPNET [NEPNETD]
set -euo pipefail
nepnet=$1 nepnetd=${2:-}
command -v turnserver >/dev/null || { echo "FAIL: coturn's turnserver is not installed (./bootstrap installs coturn)"; exit 1; }
dir=$(mktemp -d /tmp/nn-coturn-XXXXXX)
base=$((20000 + ($$ % 400) * 10))
cleanup() {
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
  [ -n "${ours:-}" ] && kill "$ours" 2>/dev/null || true
  [ -n "${node:-}" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.out "$dir"/log; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }

turnserver -n --no-tls --no-dtls --no-tcp -S -z --no-cli -L 127.0.0.1 -L 127.0.0.2 \
  --listening-port "$base" --alt-listening-port $((base + 1)) --simple-log --log-file "$dir/log" \
  --pidfile "$dir/pid" --db "$dir/turndb" > "$dir/turnserver.out" 2>&1 &
for _ in $(seq 50); do
  "$nepnet" nat discover --server "127.0.0.1:$base" --rto-ms 100 --tries 3 > "$dir/discover.out" 2>&1 && break
  sleep 0.2
done
grep -q "^mapping none$" "$dir/discover.out" || fail "nepnet against coturn: no 'mapping none'"
grep -q "^filtering endpoint-independent$" "$dir/discover.out" || fail "nepnet against coturn: filtering"
grep -q "^server's other address 127.0.0.2:$((base + 1))$" "$dir/discover.out" || fail "coturn's OTHER-ADDRESS"
echo "nepnet nat discover against coturn:"; sed 's/^/  /' "$dir/discover.out"

q=$((base + 5))
"$nepnet" nat stun-server --listen "127.0.0.1:$q" --alt "127.0.0.2:$((q + 1))" --seconds 20 --quiet \
  > "$dir/server.out" 2>&1 &
ours=$!
for _ in $(seq 50); do grep -q "listening on 127.0.0.2:$((q + 1))" "$dir/server.out" 2>/dev/null && break; sleep 0.1; done
turnutils_natdiscovery -m -f -p "$q" 127.0.0.1 > "$dir/natdiscovery.out" 2>&1 || fail "turnutils_natdiscovery failed"
grep -q "NAT with Endpoint Independent Mapping" "$dir/natdiscovery.out" || fail "coturn's client: mapping"
grep -q "NAT with Endpoint Independent Filtering" "$dir/natdiscovery.out" || fail "coturn's client: filtering"
echo "turnutils_natdiscovery against nepnet nat stun-server: endpoint-independent mapping and filtering"
# garbage, a STUN response (not a request) and a request whose attribute runs past its end:
# counted, never answered
# (perl sends each as one datagram; bash's /dev/udp may split a printf into several)
perl -MIO::Socket::INET -e '
  my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:'"$q"'", Proto => "udp") or die;
  $s->send("GET / HTTP/1.1\r\n\r\n");
  $s->send("\x01\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl");
  $s->send("\x00\x01\x00\x08\x21\x12\xa4\x42abcdefghijkl\x80\x22\x00\x10abcd");'
sleep 0.3
kill -TERM "$ours"; wait "$ours" || true; ours=
grep -q "answered 4, errors sent 0, not STUN 1, malformed 1, not a Binding request 1" "$dir/server.out" ||
  fail "our server's counts"
tail -1 "$dir/server.out"

if [ -n "$nepnetd" ]; then
  n=$((base + 7))
  mkdir -p "$dir/node"
  "$nepnetd" --datadir "$dir/node" --network regtest --listen "127.0.0.1:$n" --api "127.0.0.1:$((base + 8))" \
    --mixnet 0 --stun-server "127.0.0.1:$base" --log-level info > "$dir/node.out" 2>&1 &
  node=$!
  for _ in $(seq 100); do grep -q "our UDP port maps to" "$dir/node.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "our UDP port maps to 127.0.0.1:$n; mapping none, filtering endpoint-independent" "$dir/node.out" ||
    fail "nepnetd's discovery against coturn"
  echo "nepnetd against coturn: $(grep -o 'our UDP port maps to.*' "$dir/node.out")"
  "$nepnet" nat discover --server "127.0.0.1:$n" --rto-ms 100 --tries 3 > "$dir/discover-node.out" 2>&1 || true
  grep -q "^mapped address 127.0.0.1:" "$dir/discover-node.out" || fail "nepnetd's STUN server did not answer"
  grep -q "no OTHER-ADDRESS" "$dir/discover-node.out" || fail "nepnetd's STUN server: one address, no OTHER-ADDRESS"
  echo "nepnet nat discover against nepnetd's STUN server: $(grep '^mapped address' "$dir/discover-node.out")"
  curl -sS -m 5 -H "Authorization: Bearer $(cat "$dir/node/api.token")" "http://127.0.0.1:$((base + 8))/v1/nat" |
    tr -d ' \n' | grep -q '"stun":{"serving":true' || fail "/v1/nat has no stun section"
  kill -TERM "$node"; wait "$node" || true; node=
fi
echo PASS
