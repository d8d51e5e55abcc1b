#!/usr/bin/env bash
# The own-transaction timeline from the command line (issue 17), on a devnet of 3 nepnetd
# processes: `nepnet send --follow` names the stem relay and ends "propagated" (exit 0);
# `nepnet tx ID` prints the same and exits by outcome, --json for scripts; another node answers
# an id that is not its own like an unknown one; `nepnet devnet trace` joins the nodes' records
# into the stem path; `nepnet peers`, `status --watch` and `ui`. (The embargoed ending, with a
# relay that drops stems, is test_devnet's black hole.)
#   usage: cli_timeline.sh NEPNETD NEPNET
set -uo pipefail
nepnetd=$1
cli=$2
dir=$(mktemp -d /tmp/nn-timeline-XXXXXX)
name=cli_timeline
# shellcheck source=devnet3.sh
. "$(cd "$(dirname "$0")" && pwd)/devnet3.sh"

devnet3_up "$cli" "$nepnetd" "$dir" 3
say "devnet of 3 up on 127.0.0.1:$base.."
# the origin: a node with an outbound peer, which Dandelion++ takes its stem relay from
origin=$(devnet3_origin "$cli" "$dir")
[ -n "$origin" ] || fail "no node has an outbound peer"
ids=()
for i in 0 1 2; do
  ids[i]=$("$cli" --datadir "$dir/devnet/node-$i" status --json | sed -n 's/^ *"node_id": "\([0-9a-f]*\)".*/\1/p')
done
dd="$dir/devnet/node-$origin"
other=$(((origin + 1) % 3))

head -c 700 /dev/urandom >"$dir/tx.bin"
"$cli" --datadir "$dd" send "$dir/tx.bin" --follow --timeout 120 >"$dir/follow.txt" 2>&1
rc=$?
cat "$dir/follow.txt"
[ $rc = 0 ] || fail "send --follow exited $rc, not 0 (propagated)"
id=$(sed -n 's/^id \([0-9a-f]\{64\}\) mode .*/\1/p' "$dir/follow.txt")
[ -n "$id" ] || fail "send printed no id"
relay=$(sed -n 's/.* stem .*to relay \([0-9a-f]\{16\}\).*/\1/p' "$dir/follow.txt" | head -1)
[ -n "$relay" ] || fail "no 'stem ... to relay ID' line"
known=0
for i in 0 1 2; do [ "$i" != "$origin" ] && [ "${ids[i]:0:16}" = "$relay" ] && known=1; done
[ $known = 1 ] || fail "the relay $relay is none of the other nodes (${ids[*]})"
grep -q ' seen-back .* from [0-9a-f]\{16\}' "$dir/follow.txt" || fail "no seen-back step naming the peer"
tail -1 "$dir/follow.txt" | grep -q '^propagated: the network has it' || fail "the last line is not the propagated verdict"
# no log names the transaction at INFO: not the origin's (its own), not a relay's (a peer's stem)
for l in "$dir"/devnet/node-*/nepnetd.log; do
  grep -qi "${id:0:16}" "$l" && fail "$l names the transaction: $(grep -i "${id:0:16}" "$l" | head -n 2)"
done
say "send --follow: stem to node $relay, seen back, propagated (exit 0)"

"$cli" --datadir "$dd" tx "$id" >"$dir/tx.txt" 2>&1
rc=$?
[ $rc = 0 ] || fail "tx ID exited $rc after propagation"
grep -q "to relay $relay" "$dir/tx.txt" || fail "tx ID does not name the relay"
"$cli" --datadir "$dd" tx "$id" --json >"$dir/tx.json" || fail "tx --json"
tail -1 "$dir/tx.json" | grep -q '"state":"propagated"' || fail "tx --json's last line is not the propagated entry"
grep -q '"what":"stem"' "$dir/tx.json" || fail "tx --json has no stem step line"
# no oracle: another node answers our id as it answers an unknown one
"$cli" --datadir "$dir/devnet/node-$other" tx "$id" >"$dir/o1.txt" 2>&1
r1=$?
"$cli" --datadir "$dir/devnet/node-$other" tx "$(printf '%064d' 7)" >"$dir/o2.txt" 2>&1
r2=$?
[ $r1 = 1 ] && [ $r2 = 1 ] || fail "another node's transaction / an unknown id: exits $r1 and $r2, want 1 and 1"
grep -q "knows no transaction of its own" "$dir/o1.txt" || fail "no explanation for an id not ours: $(cat "$dir/o1.txt")"
"$cli" --datadir "$dd" tx nothex >/dev/null 2>&1 && fail "a malformed id was accepted"
say "tx ID: exit 0, --json, an id not ours answered like an unknown one"

"$cli" devnet trace "$id" --dir "$dir/devnet" >"$dir/trace.txt" 2>&1
rc=$?
cat "$dir/trace.txt"
[ $rc = 0 ] || fail "devnet trace exited $rc"
grep -q "node-$origin .*--stem--> .*--fluff--> every node" "$dir/trace.txt" || fail "no chain from the origin to a fluff"
grep -q "^  -> node-[0-9]* *$relay" "$dir/trace.txt" || fail "the trace's first hop is not the relay of the timeline"
say "devnet trace: the chain from node-$origin to the fluff"

"$cli" --datadir "$dd" peers >"$dir/peers.txt" || fail "peers"
grep -q '^out [1-9]' "$dir/peers.txt" || fail "peers: no outbound count: $(cat "$dir/peers.txt")"
grep -q "^out tcp *${relay} .* relay$" "$dir/peers.txt" || fail "peers does not mark the relay: $(cat "$dir/peers.txt")"
"$cli" --datadir "$dd" status >"$dir/status.txt" || fail "status"
grep -q '^own txs    1 .*1 propagated' "$dir/status.txt" || fail "status: no own-tx line: $(cat "$dir/status.txt")"
timeout 3 "$cli" --datadir "$dd" status --watch --interval 1 >"$dir/watch.txt" 2>&1
[ "$(grep -c '^--- ' "$dir/watch.txt")" -ge 2 ] || fail "status --watch did not repeat: $(cat "$dir/watch.txt")"
"$cli" --datadir "$dd" status --follow >/dev/null 2>&1 && fail "status took --follow"
url=$("$cli" --datadir "$dd" ui 2>/dev/null) || fail "ui"
[ "$url" = "http://$(cat "$dd/api.address")/#token=$(cat "$dd/api.token")" ] || fail "ui printed $url"
say "peers, status (own txs), status --watch, ui"
echo "cli_timeline: ok"
