#!/usr/bin/env bash
# bench_conns: what a wire observer counts on an idle devnet (issue 19, "one connection per
# peer"): established TCP connections per connected node pair and new connections a minute.
#
#   bench/bench_conns.sh BUILD_DIR [NODES] [MINUTES] [BASE_PORT]     (defaults 10, 10, 21800)
#
# Starts a devnet of NODES nepnetd (`nepnet devnet up`), then samples `ss` once a second for
# MINUTES: every established connection between two of the devnet's processes (both ends on
# this host) is mapped to its node pair through the processes' pids. Prints, once a minute:
# connections open, pairs connected, the most connections one pair holds, and the connections
# opened in that minute (the sum of the nodes' nepnet_channels_dialled_total, exact, and those
# the samples saw, which miss any that lived less than a second).
set -euo pipefail
build=$1 nodes=${2:-10} minutes=${3:-10} base=${4:-21800}
cli="$build/nepnet"
dir=$(mktemp -d "${TMPDIR:-/tmp}/nn-conns.XXXXXX")
cleanup() { "$cli" devnet down --dir "$dir/devnet" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $nodes nodes, $minutes min, ports $base.."
"$cli" devnet up "$nodes" --dir "$dir/devnet" --base-port "$base" >"$dir/up.log" 2>&1 ||
  { cat "$dir/up.log"; exit 1; }
declare -A node_of
for i in $(seq 0 $((nodes - 1))); do
  node_of[$(cat "$dir/devnet/node-$i/nepnetd.pid")]=$i
done
# one line per connection: "a b tuple" with a < b, the tuple the same from both ends
sample() {
  ss -tnpH state established 2>/dev/null | awk '
    { pid = $0; sub(/.*pid=/, "", pid); sub(/,.*/, "", pid);
      l = $3; r = $4; if (l < r) t = l "-" r; else t = r "-" l; print pid, t }' |
    while read -r pid t; do
      n=${node_of[$pid]:-}
      [ -n "$n" ] && echo "$t $n"
    done | sort | awk '{ if ($1 == last) { a = prev; b = $2; if (a > b) { x = a; a = b; b = x };
                          print a, b, $1 } last = $1; prev = $2 }'
}
declare -A seen
total_new=0 total_dialled=0
dialled() { # the sum over the nodes of nepnet_channels_dialled_total
  local i s=0 v
  for i in $(seq 0 $((nodes - 1))); do
    v=$(curl -sS -H "Authorization: Bearer $(cat "$dir/devnet/node-$i/api.token")" \
          "http://$(cat "$dir/devnet/node-$i/api.address")/metrics" 2>/dev/null |
        awk '$1 == "nepnet_channels_dialled_total" {print $2}')
    s=$((s + ${v:-0}))
  done
  echo $s
}
d0=$(dialled)
summary() { # label file new
  local open pairs worst
  open=$(wc -l <"$2")
  pairs=$(awk '{print $1"-"$2}' "$2" | sort -u | wc -l)
  worst=$(awk '{print $1"-"$2}' "$2" | sort | uniq -c | sort -rn | awk 'NR==1 {print $1+0}')
  printf '%-10s %5d open  %3d pairs  max %2d per pair  %5d dialled  %5d new seen\n' "$1" "$open" "$pairs" \
    "${worst:-0}" "$4" "$3"
}
for m in $(seq 1 "$minutes"); do
  new=0
  for _ in $(seq 60); do
    sample >"$dir/now"
    while read -r a b t; do
      if [ -z "${seen[$t]:-}" ]; then seen[$t]=1; new=$((new + 1)); fi
    done <"$dir/now"
    sleep 1
  done
  d1=$(dialled)
  [ "$m" = 1 ] || { total_new=$((total_new + new)); total_dialled=$((total_dialled + d1 - d0)); }
  summary "minute $m" "$dir/now" "$new" $((d1 - d0))
  d0=$d1
done
m=$((minutes - 1))
echo "after the first minute: $total_dialled channels dialled in $m min ($(awk -v n=$total_dialled -v m=$m 'BEGIN { if (m) printf "%.1f", n / m; else print 0 }') a minute; $total_new seen by the samples)"
