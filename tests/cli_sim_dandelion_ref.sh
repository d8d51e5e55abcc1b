#!/usr/bin/env bash
# `nepnet sim dandelion --model reference` as a user runs it: the default run prints both
# protocols with the authors' figures beside them, and options of the other model or of the
# other kind of graph are refused with the flag named and the fix.
set -euo pipefail
bin=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$bin" sim dandelion --model reference --quiet) || fail "default reference run exited non-zero: $out"
grep -q '20 graphs x 30 trials' <<<"$out" || fail "trial counts not printed: $out"
grep -Eq '^ 0\.10 +10  Dandelion\+\+ +0\.0[34][0-9]{2} \+- 0\.00[0-9]{2} .* 0\.0362  0\.1051$' <<<"$out" ||
  fail "no Dandelion++ line with the authors' figures beside it: $out"
grep -Eq '^ 0\.10 +10  diffusion +0\.(08|09|10)[0-9]{2} \+- 0\.0[0-9]{3} .* 0\.0937  0\.2345$' <<<"$out" ||
  fail "no diffusion line with the authors' figures beside it: $out"

# a setting that is not theirs has no authors' column
out=$("$bin" sim dandelion --model reference --quiet --graph outbound --outbound 8 --graphs 2 --trials 2) ||
  fail "outbound graph run failed: $out"
grep -q "authors' code:" <<<"$out" && fail "authors' figures printed for another setting: $out"
grep -q 'each dials 8 distinct random peers' <<<"$out" || fail "outbound graph not described: $out"

refused() { # expected message, then the arguments
  local want=$1
  shift
  if err=$("$bin" sim dandelion "$@" 2>&1); then fail "accepted: $*"; fi
  grep -q -- "$want" <<<"$err" || fail "'$*' did not say '$want': $err"
}
refused '--inv-out-ms applies to --model nepnet only' --model reference --inv-out-ms 10
refused '--out applies to --model nepnet only' --out /tmp/x --model reference
refused '--graphs applies to --model reference only: drop --graphs, or add --model reference' --graphs 5
refused '--model wants nepnet or reference' --model paper
refused '--stems applies to --graph outbound only' --model reference --stems 3
refused '--degree must be even' --model reference --degree 5
refused '--forwarding wants one-to-one or per-tx' --model reference --forwarding random
refused '--q wants a number in \[0' --model reference --q 0.7
refused '--nodes wants an integer in 20-100000' --model reference --nodes 10
refused 'floor(p\*N) must be 1 to N-1' --model reference --p 0.005

help=$("$bin" sim dandelion --help)
for w in '--model M' '--model reference' '--graphs G' '--trials T' '--graph KIND' '--degree D' '--stems K' \
  '--forwarding F' 'default 20, as the authors' 'default 30, as the authors'; do
  grep -q -- "$w" <<<"$help" || fail "--help does not document '$w'"
done
echo "cli_sim_dandelion_ref: ok"
