#!/usr/bin/env bash
# The tree's one style (.clang-format) with clang-format 14, Debian 12's.
#   tools/format.sh          rewrite every C file in place
#   tools/format.sh --check  list the files that differ and fail if any does (CTest `format`);
#                            exits 77 (skipped) without clang-format 14, whose output others differ from
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ] || ! "$cf" --version | grep -q 'version 14\.'; then
  echo "SKIPPED: clang-format 14 not found (./bootstrap installs Debian's clang-format)"
  exit 77
fi
mapfile -t files < <(find include src sim tests bench fuzz examples -name '*.[ch]' \
                       -not -path 'tests/layering_fixture/*' 2>/dev/null | sort)
if [ "${1:-}" != "--check" ]; then
  "$cf" -i "${files[@]}"
  echo "formatted ${#files[@]} files"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$cf" "$f" | cmp -s - "$f"; then
    echo "$f: not in the tree's style; run ./bootstrap format (or tools/format.sh)"
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] && echo "format: ${#files[@]} files in style" && exit 0
exit 1
