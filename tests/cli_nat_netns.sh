#!/usr/bin/env bash
# NAT behaviour discovery through real Linux NATs: network namespaces with routers doing NAT
# with iptables/nftables, one per behaviour, and `nepnet nat discover` in a host behind each
# against `nepnet nat stun-server` on the "Internet" (two addresses: 203.0.113.100 and .101).
#
#   full cone             static SNAT/DNAT of UDP port 4000                      EIM + EIF
#   restricted cone       the same, plus an nftables filter that lets in only    EIM + ADF
#                         hosts the host has sent to (a dynamic set)
#   port-restricted cone  MASQUERADE (Linux keeps the source port when free)     EIM + APDF
#   symmetric             MASQUERADE --random-fully (a new port per flow)        APDM + APDF
#   double NAT (CGNAT)    two MASQUERADE routers, 100.64.0.0/24 between them     EIM + APDF
#
# Only addresses of the namespaces this script creates are used (documentation and shared
# ranges); everything is removed on exit. Needs root (CI runs as root); skipped (77) without.
#   cli_nat_netns.sh NEPNET
set -uo pipefail
nepnet=$1
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi
for t in ip iptables nft; do
  command -v $t >/dev/null || { echo "FAIL: $t is not installed (./bootstrap installs iproute2, iptables, nftables)"; exit 1; }
done
id=$$
p="nn$((id % 100000))"           # namespace prefix, short: interface names stay under 15 bytes
inet="${p}i" dir=$(mktemp -d /tmp/nn-natlab-XXXXXX)
spawned=()
cleanup() {
  for pid in "${spawned[@]}"; do kill "$pid" 2>/dev/null; done
  for ns in $(ip netns list | awk '{print $1}' | grep "^${p}"); do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.out; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }
x() { "$@" || fail "command failed: $*"; }

# The Internet: a bridge in its own namespace; the STUN server's two addresses on it.
x ip netns add "$inet"
x ip -n "$inet" link set lo up
x ip -n "$inet" link add br0 type bridge
x ip -n "$inet" link set br0 up
x ip -n "$inet" addr add 203.0.113.100/24 dev br0
x ip -n "$inet" addr add 203.0.113.101/24 dev br0

# router R with WAN address WAN on the bridge (or on a given upstream namespace/bridge), LAN
# net 10.0.N.0/24 (or the given one), and a host H at .2 of the LAN
wan_link() { # ns ifname upstream_ns upstream_bridge addr/len
  local peer="${1#"$p"}up" # the upstream end, named after the namespace: r1up, c5up ...
  x ip link add "$2" netns "$1" type veth peer name "$peer" netns "$3"
  x ip -n "$3" link set "$peer" master "$4" up
  x ip -n "$1" addr add "$5" dev "$2"
  x ip -n "$1" link set "$2" up
}
router() { # name wan_addr/len upstream_ns upstream_bridge lan_prefix (e.g. 10.0.1)
  local r="${p}r$1" h="${p}h$1"
  x ip netns add "$r"
  x ip netns add "$h"
  x ip -n "$r" link set lo up
  x ip -n "$h" link set lo up
  wan_link "$r" wan "$3" "$4" "$2"
  x ip link add lan netns "$r" type veth peer name eth0 netns "$h"
  x ip -n "$r" addr add "$5.1/24" dev lan
  x ip -n "$r" link set lan up
  x ip -n "$h" addr add "$5.2/24" dev eth0
  x ip -n "$h" link set eth0 up
  x ip -n "$h" route add default via "$5.1"
  x ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
}

# 1 full cone, 2 restricted cone, 3 port-restricted cone, 4 symmetric
router 1 203.0.113.11/24 "$inet" br0 10.0.1
x ip netns exec "${p}r1" iptables -t nat -A POSTROUTING -o wan -p udp -s 10.0.1.2 --sport 4000 -j SNAT --to-source 203.0.113.11:4000
x ip netns exec "${p}r1" iptables -t nat -A PREROUTING -i wan -p udp --dport 4000 -j DNAT --to-destination 10.0.1.2:4000

router 2 203.0.113.12/24 "$inet" br0 10.0.2
x ip netns exec "${p}r2" iptables -t nat -A POSTROUTING -o wan -p udp -s 10.0.2.2 --sport 4000 -j SNAT --to-source 203.0.113.12:4000
x ip netns exec "${p}r2" iptables -t nat -A PREROUTING -i wan -p udp --dport 4000 -j DNAT --to-destination 10.0.2.2:4000
x ip netns exec "${p}r2" nft -f - <<'EOF'
table inet natlab {
  set contacted { type ipv4_addr; flags dynamic,timeout; timeout 120s; }
  chain filter_in {
    type filter hook forward priority 0; policy drop;
    iifname "lan" update @contacted { ip daddr } accept
    iifname "wan" ct state established,related accept
    iifname "wan" ip saddr @contacted accept
  }
}
EOF

router 3 203.0.113.13/24 "$inet" br0 10.0.3
x ip netns exec "${p}r3" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE

router 4 203.0.113.14/24 "$inet" br0 10.0.4
x ip netns exec "${p}r4" iptables -t nat -A POSTROUTING -o wan -p udp -j MASQUERADE --random-fully

# 5: double NAT. The carrier's router c5 on the Internet, the home router r5 behind it.
c="${p}c5"
x ip netns add "$c"
x ip -n "$c" link set lo up
wan_link "$c" wan "$inet" br0 203.0.113.15/24
x ip -n "$c" link add cg type bridge
x ip -n "$c" link set cg up
x ip -n "$c" addr add 100.64.0.1/24 dev cg
x ip netns exec "$c" sysctl -qw net.ipv4.ip_forward=1
x ip netns exec "$c" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
router 5 100.64.0.2/24 "$c" cg 10.0.5
x ip -n "${p}r5" route add default via 100.64.0.1
x ip netns exec "${p}r5" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE

# The STUN server on the Internet.
ip netns exec "$inet" "$nepnet" nat stun-server --listen 203.0.113.100:3478 --alt 203.0.113.101:3479 --quiet \
  > "$dir/server.out" 2>&1 &
spawned+=($!)
for _ in $(seq 50); do grep -q "listening on 203.0.113.101:3479" "$dir/server.out" 2>/dev/null && break; sleep 0.1; done

check() { # n name mapping filtering
  local out="$dir/discover-$1.out"
  ip netns exec "${p}h$1" "$nepnet" nat discover --server 203.0.113.100:3478 --local "10.0.$1.2:4000" \
    --rto-ms 200 --tries 4 > "$out" 2>&1 || fail "$2: discover failed"
  grep -q "^mapping $3$" "$out" || fail "$2: expected mapping $3"
  grep -q "^filtering $4$" "$out" || fail "$2: expected filtering $4"
  printf '%-22s %s + %s (%s)\n' "$2" "$3" "$4" "$(grep '^classic name' "$out" | cut -d: -f2- | sed 's/^ //')"
}
check 1 "full cone" endpoint-independent endpoint-independent
check 2 "restricted cone" endpoint-independent address-dependent
check 3 "port-restricted cone" endpoint-independent address-and-port-dependent
check 4 "symmetric" address-and-port-dependent address-and-port-dependent
check 5 "double NAT (CGNAT)" endpoint-independent address-and-port-dependent
echo PASS
