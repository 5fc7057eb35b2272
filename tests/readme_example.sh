#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's libgp example compiles as written and prints what it says.
# usage: readme_example.sh BUILD_DIR CC CFLAGS...
set -eu
build=$1 cc=$2
shift 2
dir=$build/tests/readme
mkdir -p "$dir"
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' README.md |
	sed '/^```/d; /<!--/d' > "$dir/square.c"
expected=$(sed -n '/^\$ \.\/square$/,/^```$/p' README.md | sed '1d;$d')
"$cc" "$@" -o "$dir/square" "$dir/square.c" "$build/libgp.a" $(pkg-config --libs liburing libseccomp) -lpthread
actual=$("$dir/square")
if [ "$actual" != "$expected" ]; then
	printf 'README example: expected\n%s\ngot\n%s\n' "$expected" "$actual" >&2
	exit 1
fi
echo "README example: compiles and prints what the README says"
