#!/bin/sh
# SPDX-License-Identifier: MIT
# make install's worker: installs what each line of stdin says, into
# $DESTDIR, and writes a manifest of what it put there (paths without
# DESTDIR), so that make uninstall removes exactly that.
#
#   file MODE SRC DEST    install SRC as DEST (replacing what was there)
#   link TARGET DEST      a symbolic link DEST -> TARGET
#   conf MODE SRC DEST    SRC as DEST only if DEST does not exist: an
#                         administrator's file is never overwritten
#
# Folders it creates are in the manifest too ("dir PATH"), removed by
# uninstall if empty then. A conf file it installed ("conf PATH SHA256") is
# removed only if still unchanged.
#
# usage: install.sh MANIFEST (MANIFEST without DESTDIR; DESTDIR from the env)
#        install.sh --uninstall MANIFEST
set -eu
D=${DESTDIR:-}

if [ "$1" = --uninstall ]; then
	m="$D$2"
	[ -f "$m" ] || { echo "uninstall: no $m: nothing was installed there" >&2; exit 1; }
	# Files and links first, then folders deepest first.
	while read -r kind path sum; do
		case $kind in
		file | link) rm -f "$D$path" ;;
		conf)
			if [ -f "$D$path" ] && [ "$(sha256sum <"$D$path" | cut -d' ' -f1)" = "$sum" ]; then
				rm -f "$D$path"
			elif [ -e "$D$path" ]; then
				echo "uninstall: $path was changed since install: kept" >&2
			fi ;;
		esac
	done <"$m"
	dirs=$(cut -d' ' -f2- "$m.dirs" | sort -r) # children before their parents
	rm -f "$m" "$m.dirs"
	# Only those left empty: another package's files keep theirs.
	echo "$dirs" | while read -r dir; do
		[ -z "$dir" ] || rmdir "$D$dir" 2>/dev/null || true
	done
	exit 0
fi

manifest=$1
new=$(mktemp)
dirs=$(mktemp)
trap 'rm -f "$new" "$dirs"' EXIT

# Make the folders of $1 (no DESTDIR), recording each one created.
mkdirs()
{
	[ -d "$D$(dirname "$1")" ] && return 0
	mkdirs "$(dirname "$1")"
	mkdir "$D$(dirname "$1")"
	echo "dir $(dirname "$1")" >>"$dirs"
}

mkdirs "$manifest"
while read -r kind a b c; do
	case $kind in
	file)
		mkdirs "$c"
		install -m "$a" "$b" "$D$c"
		echo "file $c" >>"$new" ;;
	link)
		mkdirs "$b"
		ln -sfn "$a" "$D$b"
		echo "link $b" >>"$new" ;;
	conf)
		if [ -e "$D$c" ]; then
			echo "install: $c exists: kept (the example is $b)"
		else
			mkdirs "$c"
			install -m "$a" "$b" "$D$c"
			echo "conf $c $(sha256sum <"$b" | cut -d' ' -f1)" >>"$new"
		fi ;;
	'') ;;
	*) echo "install.sh: bad line: $kind $a $b $c" >&2; exit 1 ;;
	esac
done
# Installing again over an earlier install: keep what the earlier one
# recorded (a conf it put there, folders it made).
if [ -f "$D$manifest" ]; then
	sort -u "$D$manifest" "$new" >"$new.all" && mv "$new.all" "$new"
fi
[ -f "$D$manifest.dirs" ] && cat "$D$manifest.dirs" >>"$dirs"
sort -u "$dirs" >"$D$manifest.dirs"
sort -u "$new" >"$D$manifest"
