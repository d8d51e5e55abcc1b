# Shared by the shell tests that need a small devnet (source it; set name, dir and cli first):
#   devnet3_up CLI NEPNETD DIR N   start N nodes in DIR/devnet on free ports (5 attempts); sets
#                                  devnet_up=1 and base
#   devnet3_origin CLI DIR         print the index of a node with an outbound peer (a stem
#                                  relay for its transactions), or nothing
#   and say/fail/cleanup for them: name= and dir= set before sourcing (fail shows the nodes' logs)
devnet_up=0
say() { echo "$name: $*"; }
fail() {
  echo "$name: FAIL: $*" >&2
  for l in "$dir"/devnet/node-*/nepnetd.log; do
    [ -f "$l" ] && { echo "--- $l (last 15 lines)" >&2; tail -15 "$l" >&2; }
  done
  exit 1
}
cleanup() {
  [ $devnet_up = 1 ] && "$cli" devnet down --dir "$dir/devnet" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
devnet3_up() {
  local cli=$1 nepnetd=$2 dir=$3 n=$4 attempt p busy
  for attempt in 1 2 3 4 5; do
    base=$((20000 + (RANDOM % 6000) * 2)) # below Linux's ephemeral ports
    busy=0
    for p in $(seq "$base" $((base + 2 * n - 1))); do port_busy "$p" && busy=1; done
    [ $busy = 0 ] || continue
    devnet_up=1
    if "$cli" devnet up "$n" --dir "$dir/devnet" --base-port "$base" --nepnetd "$nepnetd" >"$dir/up.log" 2>&1; then
      return 0
    fi
    cat "$dir/up.log"
    "$cli" devnet down --dir "$dir/devnet" >/dev/null 2>&1
    devnet_up=0
    rm -rf "$dir/devnet"
  done
  fail "could not start a devnet in 5 attempts"
}
devnet3_origin() {
  local cli=$1 dir=$2 i out
  for i in $(seq 0 $(($(ls -d "$dir"/devnet/node-* | wc -l) - 1))); do
    out=$("$cli" --datadir "$dir/devnet/node-$i" status --json | sed -n 's/^ *"peers_out": \([0-9]*\).*/\1/p')
    [ "${out:-0}" -ge 1 ] && { echo "$i"; return 0; }
  done
}
