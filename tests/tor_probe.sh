#!/usr/bin/env bash
# tor_onion_probe: a private Tor network (tor_privnet.sh), then tor_probe against it; the
# network is stopped whatever happens. Skipped (77) without tor.
#   tor_probe.sh TOR_PROBE [DIR]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
probe=$1
dir=${2:-$(mktemp -d /tmp/nn-torprobe-XXXXXX)}
trap 'bash "$here/tor_privnet.sh" stop "$dir"' EXIT
bash "$here/tor_privnet.sh" start "$dir" 2
rc=$?
[ $rc = 0 ] || exit $rc
"$probe" "$dir/env"
rc=$?
[ $rc = 0 ] || tail -n 20 "$dir"/c0/notice.log "$dir"/c1/notice.log
exit $rc
