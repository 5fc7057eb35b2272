#!/bin/sh
# SPDX-License-Identifier: MIT
# Run test binaries one after another; each prints its own Criterion summary.
# Exit non-zero if any failed. Skipped tests are reported by Criterion itself.
set -u
failed=""
for t in "$@"; do
	printf '=== %s\n' "$t"
	if ! "$t" --jobs=1 --short-filename; then
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	printf '\nFAILED:%s\n' "$failed" >&2
	exit 1
fi
printf '\nall test binaries passed\n'
