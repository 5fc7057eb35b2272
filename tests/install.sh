#!/bin/sh
# SPDX-License-Identifier: MIT
# make install into a DESTDIR gives a complete installation: the programs,
# libgp (shared with its soname, static, header, gp.pc), the man pages, the
# units, the bash completions and the example configuration. The README
# example builds against the installed gp.pc (PKG_CONFIG_SYSROOT_DIR: the
# DESTDIR as a staging root), links the installed libgp.so and runs. A
# second install keeps an administrator's spawnd.conf; make uninstall
# removes exactly what install put there, and nothing else.
# usage: install.sh BUILD_DIR CC
set -eu
build=$1 cc=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "install: $*" >&2; exit 1; }
inst() { make --no-print-directory -s "$@" DESTDIR="$dest" PREFIX=/usr/local B="$build"; }

inst install >/dev/null
manifest=$dest/usr/local/share/spawnd/install-manifest
echo "make install DESTDIR=... PREFIX=/usr/local put there ($(wc -l <"$manifest") entries):"
cut -d' ' -f2 "$manifest" | sed 's|/man3/[^/]*$|/man3/...|' | uniq -c | awk '{print "   " $2 ($1 > 1 ? " (" $1 ")" : "")}'

units=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /usr/local/lib/systemd/system)
comp=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null ||
       echo /usr/local/share/bash-completion/completions)
for f in /usr/local/sbin/spawnd /usr/local/bin/spawnctl /usr/local/include/gp.h \
	 /usr/local/lib/libgp.a /usr/local/lib/libgp.so.0 /usr/local/lib/libgp.so \
	 /usr/local/lib/pkgconfig/gp.pc /usr/local/share/man/man8/spawnd.8 \
	 /usr/local/share/man/man3/gp_spawn.3 /usr/local/share/man/man3/gp_exit.3 \
	 /usr/local/share/man/man1/spawnctl.1 /usr/local/share/man/man5/spawnd.conf.5 \
	 "$units/spawnd.service" "$units/spawnd.socket" "$comp/spawnd" "$comp/spawnctl" \
	 /etc/spawnd/spawnd.conf; do
	[ -e "$dest$f" ] || fail "$f not installed"
done
"$dest/usr/local/sbin/spawnd" check "$dest/etc/spawnd/spawnd.conf" >/dev/null ||
	fail "the example /etc/spawnd/spawnd.conf does not pass spawnd check"
for c in "$dest$comp"/*; do
	bash -n "$c" || fail "$c: bash syntax"
	bash -c '_init_completion() { :; }; . "$1"; complete -p "${1##*/}" >/dev/null' _ "$c" ||
		fail "$c defines no completion for ${c##*/}"
done

# The completions complete (with bash-completion's helpers, where installed).
if [ -r /usr/share/bash-completion/bash_completion ]; then
	complete_with() { # complete_with FILE WORD... : what bash offers for the last word
		bash -c '. /usr/share/bash-completion/bash_completion; . "$1"; shift
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"
			COMP_POINT=${#COMP_LINE}; "_$1"; echo "${COMPREPLY[*]}"' _ "$@"
	}
	[ "$(complete_with "$dest$comp/spawnctl" spawnctl rel)" = reload ] || fail "spawnctl rel<TAB>"
	[ "$(complete_with "$dest$comp/spawnctl" spawnctl logs -)" = "-n --lines -f --follow" ] ||
		fail "spawnctl logs -<TAB>"
	[ "$(complete_with "$dest$comp/spawnd" spawnd exec --sandbox st)" = strict ] ||
		fail "spawnd exec --sandbox st<TAB>"
	if [ -f "$dest$comp/ptop" ]; then
		[ "$(complete_with "$dest$comp/ptop" ptop --js)" = --json ] || fail "ptop --js<TAB>"
	fi
fi

# libgp, as a program of the user's would use it.
pc="$dest/usr/local/lib/pkgconfig"
flags=$(PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config --cflags --libs gp)
case "$flags" in *-fstack-clash-protection*) ;; *) fail "gp.pc lacks -fstack-clash-protection" ;; esac
case "$flags" in *"-I$dest/usr/local/include"*) ;; *) fail "gp.pc: no -I into the DESTDIR: $flags" ;; esac
"$cc" -o "$dest/square" "$build/tests/readme/square.c" $flags
out=$(LD_LIBRARY_PATH="$dest/usr/local/lib" "$dest/square")
[ "$out" = "12 squared is 144
worker died with reason 257" ] || fail "installed example printed: $out"
LD_LIBRARY_PATH="$dest/usr/local/lib" ldd "$dest/square" | grep -q "libgp.so.0 => $dest/usr/local/lib/libgp.so.0" ||
	fail "the example did not link the installed libgp.so.0"
readelf -d "$dest/usr/local/lib/libgp.so.0" | grep -q 'SONAME.*libgp.so.0' ||
	fail "libgp.so has no soname libgp.so.0"
if nm -D --defined-only "$dest/usr/local/lib/libgp.so.0" | awk '{print $3}' | grep -v '^gp_\|^LIBGP_' | grep .; then
	fail "libgp.so exports more than gp_*"
fi
rm "$dest/square"

# An administrator's configuration survives a second install and uninstall.
echo "# mine" >>"$dest/etc/spawnd/spawnd.conf"
inst install >/dev/null
tail -1 "$dest/etc/spawnd/spawnd.conf" | grep -qx '# mine' || fail "install overwrote spawnd.conf"
inst uninstall 2>/dev/null
[ -f "$dest/etc/spawnd/spawnd.conf" ] || fail "uninstall removed a changed spawnd.conf"
rm "$dest/etc/spawnd/spawnd.conf"
rmdir "$dest/etc/spawnd" "$dest/etc"

# A fresh install and uninstall leave nothing, folders included.
inst install >/dev/null
inst uninstall
left=$(find "$dest" -mindepth 1)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "make install: complete; the installed libgp builds and runs the README example; uninstall removes it all"
