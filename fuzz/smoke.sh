#!/usr/bin/env bash
# CI's short libFuzzer run of one harness: replay the seed corpus, then explore for a fixed number
# of executions from a fixed seed, in a fresh work directory. The same code gives the same run,
# so CI never fails on a finding a change did not cause; long random runs are `./bootstrap fuzz`.
#
#   smoke.sh FUZZER CORPUS_DIR WORK_DIR RUNS [MAX_SECONDS]
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 runs=$4 cap=${5:-300}
rm -rf "$work"
mkdir -p "$work/new"
# -max_total_time only guards a machine far slower than this one: the run count is what ends it.
exec "$fuzzer" -seed=1 -runs="$runs" -max_total_time="$cap" -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$corpus"
