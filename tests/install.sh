#!/bin/sh
# SPDX-License-Identifier: MIT
# make install into a DESTDIR gives a working libgp: the README example
# builds against the installed gp.pc, links the installed libgp.so and runs;
# make uninstall removes every file install put there.
# usage: install.sh BUILD_DIR CC
set -eu
build=$1 cc=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make --no-print-directory -s install DESTDIR="$dest" PREFIX=/usr/local B="$build" >/dev/null
pc="$dest/usr/local/lib/pkgconfig"
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$dest/usr/local" --cflags --libs gp)
case "$flags" in *-fstack-clash-protection*) ;; *) echo "gp.pc lacks -fstack-clash-protection" >&2; exit 1 ;; esac
"$cc" -o "$dest/square" "$build/tests/readme/square.c" $flags
out=$(LD_LIBRARY_PATH="$dest/usr/local/lib" "$dest/square")
[ "$out" = "12 squared is 144
worker died with reason 257" ] || { echo "installed example printed: $out" >&2; exit 1; }
readelf -d "$dest/usr/local/lib/libgp.so.0" | grep -q 'SONAME.*libgp.so.0' ||
	{ echo "libgp.so has no soname libgp.so.0" >&2; exit 1; }
if nm -D --defined-only "$dest/usr/local/lib/libgp.so.0" | awk '{print $3}' | grep -v '^gp_\|^LIBGP_' | grep .; then
	echo "libgp.so exports more than gp_*" >&2; exit 1
fi
make --no-print-directory -s uninstall DESTDIR="$dest" PREFIX=/usr/local B="$build" >/dev/null
left=$(find "$dest/usr" -type f -o -type l)
[ -z "$left" ] || { echo "make uninstall left: $left" >&2; exit 1; }
echo "make install: the installed libgp builds and runs the README example; uninstall removes it"
