#!/bin/bash
# SPDX-License-Identifier: MIT
#
# restart_among.sh [-n N] [-s SECONDS] SPAWND...
#
# How fast spawnd restarts one child while N others run: a child that
# exits at once is restarted for ever (intensity 1000000 per second)
# beside N idle ones, and the restarts counted over SECONDS once all have
# started. Each spawnd binary given is measured in turn, three rounds
# alternating, so that two builds are compared on the same machine state.
# Measured by hand (not part of make bench): bench/RESULTS.md says when.
set -euo pipefail

N=1000 SECS=5
while getopts n:s: o; do
	case $o in
	n) N=$OPTARG ;;
	s) SECS=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
(($#)) || { echo "usage: $0 [-n N] [-s SECONDS] SPAWND..." >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/restart_among.XXXXXX)
trap 'rm -rf "$T"' EXIT
SVB=$T/svbench
"${CC:-cc}" -std=gnu17 -O2 -Wall -Wextra -Werror -o "$SVB" "$HERE/svbench.c"

{
	printf 'name = "bench";\nintensity = 1000000;\nperiod = 1;\nchildren = (\n'
	for ((i = 1; i <= N; i++)); do
		printf '  { name = "c%04d"; exec = [ "%s", "up", "%s/starts" ]; },\n' "$i" "$SVB" "$T"
	done
	printf '  { name = "crash"; exec = [ "%s", "crash", "%s/crashes" ]; }\n);\n' "$SVB" "$T"
} >"$T/spawnd.conf"

for round in 1 2 3; do
	for spawnd in "$@"; do
		rm -f "$T/starts" "$T/crashes"
		"$spawnd" -c "$T/spawnd.conf" -s "$T/ctl" >"$T/out.log" 2>&1 &
		pid=$!
		"$SVB" waitlines "$T/starts" "$N" 120 "$pid"
		sleep 1
		a=$(wc -l <"$T/crashes")
		sleep "$SECS"
		b=$(wc -l <"$T/crashes")
		kill -TERM "$pid"
		wait "$pid" || true
		awk -v r="$round" -v s="$spawnd" -v n=$((b - a)) -v t="$SECS" -v c="$N" \
			'BEGIN { printf "round %d: %s: %.2f ms per restart beside %d children\n", r, s, t * 1000 / n, c }'
	done
done
