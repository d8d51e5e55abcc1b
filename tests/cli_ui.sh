#!/usr/bin/env bash
# The status page in a real browser (issue 17): Debian's chromium-headless-shell, driven by
# playwright-core (tests/ui, pinned, installed by ./bootstrap), opens the page of a node of a
# 3-node devnet, submits a transaction through the API and waits until its timeline row says it
# came back; no request to another origin, no console error; a rebinding Host and a page of
# another origin are refused. The screenshot is kept as a test artifact:
# BUILD/test-artifacts/status-page.png.
#   usage: cli_ui.sh NEPNETD NEPNET ARTIFACT_DIR
set -uo pipefail
nepnetd=$1
cli=$2
artifacts=$3
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/nn-ui-XXXXXX)
name=cli_ui
# shellcheck source=devnet3.sh
. "$here/devnet3.sh"

chromium=
for c in /usr/lib/chromium/chromium-headless-shell /usr/bin/chromium-headless-shell; do
  [ -x "$c" ] && { chromium=$c; break; }
done
[ -n "$chromium" ] || fail "no chromium-headless-shell: ./bootstrap installs it (apt-get install chromium-headless-shell)"
command -v node >/dev/null || fail "no node: ./bootstrap installs it (apt-get install nodejs npm)"
[ -d "$here/ui/node_modules/playwright-core" ] ||
  fail "no playwright-core in tests/ui/node_modules: ./bootstrap installs it (npm ci --prefix tests/ui)"

devnet3_up "$cli" "$nepnetd" "$dir" 3
# the page of a node with an outbound peer: its transaction gets a stem relay
node=$(devnet3_origin "$cli" "$dir")
[ -n "$node" ] || fail "no node has an outbound peer"
dd="$dir/devnet/node-$node"
say "devnet of 3 on 127.0.0.1:$base..; the page of node-$node at $(cat "$dd/api.address")"

mkdir -p "$artifacts"
NEPNET_API=$(cat "$dd/api.address") NEPNET_TOKEN=$(cat "$dd/api.token") NEPNET_CHROMIUM=$chromium \
  NEPNET_SHOT="$artifacts/status-page.png" node "$here/ui/page_test.js" >"$dir/page.log" 2>&1
rc=$?
cat "$dir/page.log"
[ $rc = 0 ] || fail "page_test.js exited $rc"
[ -s "$artifacts/status-page.png" ] || fail "no screenshot"
say "screenshot: $artifacts/status-page.png"
echo "cli_ui: ok"
