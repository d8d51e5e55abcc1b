#!/usr/bin/env bash
# The status page's targets (issue 17) on a devnet of 3 nepnetd processes: page load, asset size,
# the timeline's lag behind the node, the node's CPU with the page open (bench/bench_ui.js).
# Needs what ./bootstrap test installs (chromium-headless-shell, tests/ui/node_modules).
#   bench/bench_ui.sh BUILD_DIR [--loads N] [--seconds S]
#   e.g. bench/bench_ui.sh build/release --loads 10 --seconds 60
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
b=$1
shift
dir=$(mktemp -d /tmp/nn-benchui-XXXXXX)
trap '"$b/nepnet" devnet down --dir "$dir/devnet" >/dev/null 2>&1; rm -rf "$dir"' EXIT
base=$((20000 + (RANDOM % 6000) * 2))
"$b/nepnet" devnet up 3 --dir "$dir/devnet" --base-port "$base" --nepnetd "$b/nepnetd" >/dev/null || exit 1
node=0
for i in 0 1 2; do
  out=$("$b/nepnet" --datadir "$dir/devnet/node-$i" status --json | sed -n 's/^ *"peers_out": \([0-9]*\).*/\1/p')
  [ "${out:-0}" -ge 1 ] && { node=$i; break; }
done
dd="$dir/devnet/node-$node"
echo "command: bench/bench_ui.sh $b $*; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
NEPNET_API=$(cat "$dd/api.address") NEPNET_TOKEN=$(cat "$dd/api.token") NEPNET_PID=$(cat "$dd/nepnetd.pid") \
  node "$here/bench_ui.js" "$@"
