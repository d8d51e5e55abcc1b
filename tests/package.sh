#!/usr/bin/env bash
# The Debian packages (issue 18): `./bootstrap package` builds nepnet, libnepnet0.1 and
# libnepnet-dev with dpkg-buildpackage and checks them with lintian (no error, no warning); then
# they are unpacked into an empty root with dpkg --root (a dpkg database of its own; the
# maintainer scripts are not run: they would act on this machine's systemd), and what they
# installed works: nepnetd and nepnet --version, the unit, the man pages, the settings file, a C
# program built against the packaged library through its pkg-config file.
#   usage: package.sh SOURCE_DIR
set -uo pipefail
src=$1
dir=$(mktemp -d /tmp/nn-package-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "package: FAIL: $*" >&2; exit 1; }
say() { echo "package: $*"; }

"$src/bootstrap" package >"$dir/bootstrap.log" 2>&1 || { tail -40 "$dir/bootstrap.log"; fail "./bootstrap package"; }
grep -A3 'lintian' "$dir/bootstrap.log" | head -5
debs=("$src"/build/package/*.deb)
[ ${#debs[@]} -ge 3 ] || fail "expected 3 packages, got: ${debs[*]}"
for d in "${debs[@]}"; do
  say "$(basename "$d"): $(du -k "$d" | cut -f1) KiB, installed $(dpkg-deb -f "$d" Installed-Size) KiB"
done

r="$dir/root"
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers"
touch "$r/var/lib/dpkg/status"
dpkg --root="$r" --force-depends --force-script-chrootless --force-not-root --unpack "${debs[@]}" \
  >"$dir/dpkg.log" 2>&1 || { cat "$dir/dpkg.log"; fail "dpkg --root --unpack"; }
dpkg --root="$r" -l | grep -q '^iU  nepnet ' || fail "nepnet is not unpacked in the new root: $(dpkg --root="$r" -l | tail -4)"
"$r/usr/bin/nepnetd" --version | grep -q '^nepnetd 0\.' || fail "the packaged nepnetd --version"
"$r/usr/bin/nepnet" --version | grep -q '^nepnet 0\.' || fail "the packaged nepnet --version"
[ -s "$r/lib/systemd/system/nepnetd.service" ] || fail "no unit"
[ -s "$r/usr/lib/sysusers.d/nepnet.conf" ] || fail "no sysusers file"
# a conffile waits as .dpkg-new until the package is configured
conf="$r/etc/nepnet/nepnetd.conf"
[ -e "$conf" ] || conf="$conf.dpkg-new"
grep -q '^#api-token-mode = 0600' "$conf" || fail "the settings file lacks a commented setting"
dpkg --root="$r" -s nepnet 2>/dev/null | grep -q '/etc/nepnet/nepnetd.conf' || fail "the settings file is no conffile"
for m in man1/nepnet.1.gz man5/nepnetd.conf.5.gz man8/nepnetd.8.gz; do
  [ -s "$r/usr/share/man/$m" ] || fail "no $m"
done
MANPATH="$r/usr/share/man" man -P cat nepnetd 2>/dev/null | grep -q -- '--api-token-mode' || fail "man nepnetd"
lib=$(ls "$r"/usr/lib/*/libnepnet.so.0.1 2>/dev/null | head -n1)
[ -n "$lib" ] || fail "no libnepnet.so.0.1"
pc=$(ls "$r"/usr/lib/*/pkgconfig/nepnet.pc | head -n1)
PKG_CONFIG_PATH=$(dirname "$pc") cc -o "$dir/consumer" "$src/tests/install/consumer.c" \
  $(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs nepnet) || fail "a C program against the packaged library"
LD_LIBRARY_PATH=$(dirname "$lib") "$dir/consumer" || fail "the program against the packaged library"
say "unpacked into an empty root: nepnetd, nepnet, the unit, the man pages, the settings file and the library work"
echo "package: ok"
