#!/usr/bin/env bash
# The secure channel over Tor against over TCP (issue 14's targets): starts a private Tor network
# (tests/tor_privnet.sh: 3 authorities, 3 relays, 2 clients on loopback), runs bench_tor against
# it (B's onion service on client 1, A's SOCKS on client 0), then kills relay r1 under a live
# channel; stops the network whatever happens.
#   bench/bench_tor.sh BENCH_TOR [bench_tor options...]
#   e.g. bench/bench_tor.sh build/release/bench/bench_tor --reps 5 --pings 100 --bytes 4M
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$1
shift
dir=$(mktemp -d /tmp/nn-benchtor-XXXXXX)
trap 'bash "$here/../tests/tor_privnet.sh" stop "$dir"; rm -rf "$dir"' EXIT
bash "$here/../tests/tor_privnet.sh" start "$dir" 2 || exit $?
# shellcheck disable=SC1091
. "$dir/env"
echo "command: $bin --socks $TOR_SOCKS_0 --control $TOR_CONTROL_1 $* --kill-relay \$(r1)"
"$bin" --socks "$TOR_SOCKS_0" --control "$TOR_CONTROL_1" "$@" --kill-relay "$(cat "$dir/r1/pid")"
