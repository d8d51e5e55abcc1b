#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then what an embedder does with it (issue 18): every
# file in its place; the shared library exports exactly the functions include/nepnet/*.h declares;
# a C program builds against the installed copy with pkg-config alone, shared and static, and
# with find_package(nepnet), and runs.
#   usage: install.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
dir=$(mktemp -d /tmp/nn-install-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "install: FAIL: $*" >&2; exit 1; }
say() { echo "install: $*"; }

p="$dir/prefix"
cmake --install "$build" --prefix "$p" >"$dir/install.log" 2>&1 || { cat "$dir/install.log"; fail "cmake --install"; }
for f in bin/nepnet bin/nepnetd lib/libnepnet.so lib/libnepnet.a include/nepnet/node.h include/nepnet/nepnet.h \
  lib/pkgconfig/nepnet.pc lib/cmake/nepnet/nepnetConfig.cmake lib/cmake/nepnet/nepnetConfigVersion.cmake \
  share/doc/nepnet/API.md; do
  [ -e "$p/$f" ] || fail "$f was not installed"
done
so=$(readlink -f "$p/lib/libnepnet.so")
soname=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$p/lib/$soname" ] || fail "no SONAME link ($soname)"
say "installed $(cd "$p" && find . -type f | wc -l) files; libnepnet's SONAME is $soname"

# the exported symbol list is the public API, exactly
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u >"$dir/exported"
grep -hoE '\bnn_[a-z0-9_]+\(' "$src"/include/nepnet/*.h | tr -d '(' | sort -u >"$dir/public"
if ! diff -u "$dir/public" "$dir/exported" >"$dir/diff"; then
  cat "$dir/diff"
  fail "libnepnet.so exports other symbols than include/nepnet/*.h declares (- missing, + extra)"
fi
nm -D --defined-only "$so" | grep -qiE ' (EVP_|OPENSSL_|CRYPTO_)' && fail "libnepnet.so exports OpenSSL's symbols"
say "libnepnet.so exports exactly the $(wc -l <"$dir/public") functions of include/nepnet/*.h"

# pkg-config alone: shared, then static
export PKG_CONFIG_PATH="$p/lib/pkgconfig"
cc -o "$dir/c_shared" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs nepnet) || fail "cc with pkg-config"
LD_LIBRARY_PATH="$p/lib" "$dir/c_shared" || fail "the program linked with the shared library"
ldd "$dir/c_shared" | grep -q "$p/lib/$soname" || true
static_libs=$(pkg-config --static --libs nepnet | sed 's/-lnepnet//')
cc -o "$dir/c_static" "$src/tests/install/consumer.c" $(pkg-config --cflags nepnet) "$p/lib/libnepnet.a" $static_libs ||
  fail "cc with libnepnet.a and pkg-config --static"
"$dir/c_static" || fail "the program linked with libnepnet.a"
ldd "$dir/c_static" | grep -q libnepnet && fail "the static program still loads libnepnet.so"
say "a C program builds with pkg-config alone, against libnepnet.so and libnepnet.a, and runs"

# find_package(nepnet)
cmake -S "$src/tests/install" -B "$dir/cm" -DCMAKE_PREFIX_PATH="$p" >"$dir/cm.log" 2>&1 || { cat "$dir/cm.log"; fail "find_package(nepnet)"; }
cmake --build "$dir/cm" >>"$dir/cm.log" 2>&1 || { cat "$dir/cm.log"; fail "building with find_package(nepnet)"; }
LD_LIBRARY_PATH="$p/lib" "$dir/cm/consumer_shared" >/dev/null || fail "nepnet::nepnet program"
"$dir/cm/consumer_static" >/dev/null || fail "nepnet::nepnet_static program"
say "find_package(nepnet): nepnet::nepnet and nepnet::nepnet_static"

# the Rust example (examples/rust-embed) against the installed shared library, through pkg-config
if ! command -v cargo >/dev/null && [ -x "${HOME:-}/.cargo/bin/cargo" ]; then PATH="$HOME/.cargo/bin:$PATH"; fi
if command -v cargo >/dev/null; then
  cp -r "$src/examples/rust-embed" "$dir/rust"
  rm -rf "$dir/rust/target"
  (cd "$dir/rust" && NEPNET_PKG_CONFIG=1 cargo build --offline --release -q) >"$dir/cargo.log" 2>&1 ||
    { cat "$dir/cargo.log"; fail "the Rust example against the installed library (pkg-config)"; }
  loaded=$(ldd "$dir/rust/target/release/rust-embed" | sed -n "s/.*$soname => \([^ ]*\) .*/\1/p")
  [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$p/lib/$soname")" ] ||
    fail "the Rust example does not load $p/lib/$soname ($loaded)"
  # it starts a node through the library, finds no peer at a port nobody listens on, gives up
  "$dir/rust/target/release/rust-embed" --datadir "$dir/rd" --peer 127.0.0.1:9 --timeout 2 >"$dir/rust.log" 2>&1
  grep -q 'started: network' "$dir/rust.log" || { cat "$dir/rust.log"; fail "the Rust example did not start a node"; }
  say "the Rust example builds against the installed libnepnet.so with pkg-config alone and starts a node"
else
  say "no cargo: the Rust example's part skipped"
fi

# the installed programs and their man pages
"$p/bin/nepnetd" --version | grep -q '^nepnetd ' || fail "installed nepnetd --version"
"$p/bin/nepnet" --version | grep -q '^nepnet ' || fail "installed nepnet --version"
if command -v help2man >/dev/null; then
  for m in man1/nepnet.1 man5/nepnetd.conf.5 man8/nepnetd.8; do
    [ -s "$p/share/man/$m" ] || fail "no $m"
  done
  MANPATH="$p/share/man" man -P cat nepnetd.conf 2>/dev/null | grep -q 'api-token-mode = MODE' ||
    fail "nepnetd.conf(5) lacks a setting of the table"
  MANPATH="$p/share/man" man -P cat nepnetd 2>/dev/null | grep -q -- '--log-level' || fail "nepnetd(8) lacks an option"
  say "man pages: nepnet(1), nepnetd.conf(5), nepnetd(8), each with every option of its program"
fi

# the systemd unit: valid, and hardened to an exposure of at most 2.0
unit="$p/lib/systemd/system/nepnetd.service"
[ -s "$unit" ] && [ -s "$p/lib/sysusers.d/nepnet.conf" ] || fail "the unit or its sysusers file was not installed"
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/nepnetd|$p/bin/nepnetd|" "$unit" >"$dir/nepnetd.service"
  MANPATH="$p/share/man" systemd-analyze verify "$dir/nepnetd.service" >"$dir/verify.log" 2>&1 ||
    { cat "$dir/verify.log"; fail "systemd-analyze verify"; }
  systemd-analyze security --offline=true "$dir/nepnetd.service" >"$dir/security.log" 2>&1
  score=$(sed -n 's/.*Overall exposure level for nepnetd.service: \([0-9.]*\).*/\1/p' "$dir/security.log")
  [ -n "$score" ] || { cat "$dir/security.log"; fail "no exposure score"; }
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { grep '✗' "$dir/security.log"; fail "exposure $score is above 2.0"; }
  say "systemd unit: verify passes, exposure $score (at most 2.0); still allowed: $(grep -c '✗' "$dir/security.log") items"
fi
echo "install: ok"
