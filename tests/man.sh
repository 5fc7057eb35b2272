#!/bin/sh
# SPDX-License-Identifier: MIT
# Every man page renders without a warning (groff -ww: all warnings on),
# laid out as installed (manN/page), so that link pages (.so manN/other)
# find their target.
# usage: man.sh [MAN_DIR]
set -eu
src=${1:-man}
command -v groff >/dev/null || { echo "man pages: SKIP: no groff (apt-get install groff-base)"; exit 0; }
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
for page in "$src"/*.[1-8]; do
	sec=${page##*.}
	mkdir -p "$tree/man$sec"
	cp "$page" "$tree/man$sec/"
done
n=0 bad=0
cd "$tree"
for page in man*/*; do
	n=$((n + 1))
	err=$(groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null) || err="groff failed${err:+: $err}"
	if [ -n "$err" ]; then
		printf '%s:\n%s\n' "$page" "$err" >&2
		bad=$((bad + 1))
	fi
done
[ "$bad" -eq 0 ] || { echo "man pages: $bad of $n render with warnings" >&2; exit 1; }
echo "man pages: all $n render without warnings"
