#!/usr/bin/env bash
# The punch-time target of issue 13 (P95 <= 3 round trips + the handshake) with real latency:
# the 5x5 NAT matrix (tests/cli_nat_matrix.sh) with every node's router holding each packet D ms
# (tests/nn_delay.c through NFQUEUE, since netem is missing here), for each D given. A punch's
# time runs from the offer to the switch onto the punched connection (no new handshake: the
# channel moves), and the round trip is the one the punch measures through the relay (4D here,
# as two nodes' direct one). Where the time goes: 2.5 round trips to the simultaneous open (the
# offer and its answer through the relay, SYNC, the crossing SYNs and SYN-ACKs), 1 to prove the
# connection (the token probe) and move the channel (SHUT through the relay), which replaces the
# channel handshake (msg1..msg3, 1.5 round trips) a new connection would need. Needs root.
#   bench/bench_punch_latency.sh [BUILD_DIR] [D_MS ...]     (default build/release, 10 25 50)
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build/release}
shift || true
delays=("$@")
[ ${#delays[@]} -eq 0 ] && delays=(10 25 50)
[ -x "$build/tests/nn_delay" ] || { echo "no $build/tests/nn_delay: apt-get install libnetfilter-queue-dev, then build"; exit 1; }
printf 'load average %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
for d in "${delays[@]}"; do
  out=$(NN_DELAY_MS=$d NN_DELAY_TOOL=$build/tests/nn_delay bash "$top/tests/cli_nat_matrix.sh" "$build/nepnetd" \
    "$build/nepnet" 2>&1)
  line=$(grep '^punch time' <<<"$out")
  ok=$(grep -c '^PASS$' <<<"$out")
  p95=$(sed -n 's/.*P95 \([0-9]*\),.*/\1/p' <<<"$line")
  rtt=$(sed -n 's/.*relay \([0-9.]*\) ms.*/\1/p' <<<"$line")
  ratio=$(awk -v a="$p95" -v b="$rtt" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
  echo "D=$d ms each way at each router: $line; P95 = $ratio round trips (target: 3 + the handshake, which a new channel would spend 1.5 on)$([ "$ok" = 1 ] || echo '; the matrix FAILED')"
  [ "$ok" = 1 ] || grep -E '^FAIL' <<<"$out"
done
printf 'load average %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
