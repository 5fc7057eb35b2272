#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/bpf/run.sh: what spawnd's eBPF probes cost (spawnd(8), CRASH AND
# STALL EVIDENCE), on a fork-heavy workload: a shell loop that runs
# `true` N times (fork, exec, exit each time), timed by the shell itself.
# Three ways, interleaved round by round so that machine noise hits all
# alike:
#
#   bare       the loop alone, no spawnd;
#   no-bpf     the loop as a worker of `spawnd --no-bpf`;
#   bpf        the loop as a worker of spawnd with its probes loaded (every
#              fork, exec and exit tracked and sent to spawnd, which reads
#              each new process's mappings for its symbol index), and a
#              stall_timeout (its threads watched by the stall probe).
#
# and, with GPBENCH set, libgp's pingpong (bench/gpbench.c) bare and as a
# watched worker of spawnd with its probes (the sched_switch and sys_enter
# hooks run for every thread on the machine).
#
# and what the probes cost everything else on the machine: `perf bench
# syscall basic` (10,000,000 getppid calls by a process spawnd does not
# supervise) with no spawnd running, beside a spawnd whose probes are
# loaded but none of whose workers has a stall_timeout, and beside one with
# a worker watched for stalls (the stall probe's sys_enter hook then runs
# for every system call on the machine). Skipped without perf.
#
# A markdown section goes to stdout, progress to stderr. Needs root (BPF).
# Everything lives in a mktemp -d directory (and spawnd's DIR.gp beside it),
# removed at exit; every spawnd started is stopped at exit, on failure too.
set -euo pipefail

SPAWND=${SPAWND:-build/spawnd}
N=${BENCH_FORKS:-10000}
ROUNDS=${BENCH_ROUNDS:-7}
GPBENCH=${GPBENCH:-}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/bpf/run.sh: needs root to load BPF programs" >&2
	exit 2
fi
SPAWND=$(realpath "$SPAWND")
dir=$(mktemp -d /tmp/bpfbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir" "$dir.gp" # spawnd makes <socket folder>.gp for libgp workers
}
trap cleanup EXIT

loop="i=0; s=\$(date +%s%N); while [ \$i -lt $N ]; do /bin/true; i=\$((i+1)); done; e=\$(date +%s%N); echo \$(((e-s)/1000000))"

# Run "$@" as the only worker of a spawnd (options in $opts); its stdout
# line that is a number, once it has printed one.
supervised() {
	local opts=$1 out=$dir/out.$RANDOM conf=$dir/conf.$RANDOM
	shift
	{
		echo 'name = "bench"; strategy = "one_for_one"; intensity = 1; period = 60;'
		printf 'children = ( { name = "w"; restart = "temporary"; sandbox = "none"; stall_timeout = "10s"; stdout = "%s"; exec = [ ' "$out"
		local first=1
		for a in "$@"; do
			[ $first = 1 ] || printf ', '
			first=0
			printf '"%s"' "$(printf '%s' "$a" | sed 's/["\\]/\\&/g')"
		done
		echo ' ]; } );'
	} >"$conf"
	# shellcheck disable=SC2086
	"$SPAWND" $opts -c "$conf" -s "$dir/sock.$RANDOM" 2>>"$dir/spawnd.log" &
	local sp=$!
	pids+=("$sp")
	for _ in $(seq 6000); do
		if grep -qE '^[0-9.]+$|ns_per_rt' "$out" 2>/dev/null; then break; fi
		sleep 0.05
	done
	kill "$sp"
	wait "$sp" || true
	if grep -q ns_per_rt "$out" 2>/dev/null; then
		awk '/ns_per_rt/ {print $3}' "$out"
	else
		grep -E '^[0-9.]+$' "$out" || echo NaN
	fi
}

# Start a spawnd with its probes and one sleeping worker (with "$1" in its
# settings), in the background; SIDE is its pid, once its probes are loaded.
side_spawnd() {
	local conf=$dir/side.conf log=$dir/side.log
	printf '%s\n' "name = \"side\"; children = ( { name = \"s\"; sandbox = \"none\"; $1" \
		'exec = [ "/bin/sleep", "100000" ]; } );' >"$conf"
	"$SPAWND" -c "$conf" -s "$dir/side.sock" 2>"$log" &
	SIDE=$!
	pids+=("$SIDE")
	for _ in $(seq 200); do
		grep -q 'bpf: full' "$log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench/bpf: the side spawnd's probes did not load:" >&2
	cat "$log" >&2
	exit 1
}

# perf bench syscall basic beside a spawnd (settings of its worker in $1):
# microseconds per getppid().
syscall_us() { perf bench syscall basic 2>/dev/null | awk '/usecs\/op/ {print $1}'; }
syscall_beside() {
	side_spawnd "$1"
	sleep 0.5 # its worker started (and, with a stall_timeout, the probe attached)
	syscall_us
	kill "$SIDE"
	wait "$SIDE" || true
}
SYSCALLS=0
perf bench syscall basic >/dev/null 2>&1 && SYSCALLS=1

median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "NaN")}'; }

echo "bench/bpf: $ROUNDS rounds of $N forks" >&2
for r in $(seq "$ROUNDS"); do
	sh -c "$loop" >>"$dir/bare"
	supervised --no-bpf sh -c "$loop" >>"$dir/nobpf"
	supervised "" sh -c "$loop" >>"$dir/bpf"
	if [ -n "$GPBENCH" ]; then
		"$GPBENCH" pingpong | awk '/ns_per_rt/ {print $3}' >>"$dir/pp_bare"
		supervised "" "$(realpath "$GPBENCH")" pingpong >>"$dir/pp_bpf"
	fi
	if [ "$SYSCALLS" = 1 ]; then
		syscall_us >>"$dir/sys_bare"
		syscall_beside "" >>"$dir/sys_loaded"
		syscall_beside 'stall_timeout = "10s";' >>"$dir/sys_watch"
	fi
	echo "  round $r done" >&2
done
grep -q 'bpf: full' "$dir/spawnd.log" || { echo "bench/bpf: the probes did not load:" >&2; cat "$dir/spawnd.log" >&2; exit 1; }

b=$(median <"$dir/bare") nb=$(median <"$dir/nobpf") wb=$(median <"$dir/bpf")
echo "## eBPF probes: what they cost"
echo
echo "$(date -u +%Y-%m-%d), kernel $(uname -r), $(nproc) CPUs. A shell loop running \`/bin/true\` $N times"
echo "(fork, exec, exit each), timed by the shell; median of $ROUNDS interleaved rounds (bench/bpf/run.sh)."
echo
echo "| how | ms for $N | per fork+exec+exit | vs no-bpf |"
echo "|---|---|---|---|"
awk -v b="$b" -v nb="$nb" -v wb="$wb" -v n="$N" 'BEGIN {
	printf "| bare (no spawnd) | %d | %.0f us | %+.1f%% |\n", b, b * 1000 / n, (b / nb - 1) * 100
	printf "| worker of spawnd --no-bpf | %d | %.0f us | |\n", nb, nb * 1000 / n
	printf "| worker of spawnd, probes loaded, stall_timeout set | %d | %.0f us | %+.1f%% |\n", wb, wb * 1000 / n, (wb / nb - 1) * 100
}'
if [ -n "$GPBENCH" ]; then
	pb=$(median <"$dir/pp_bare") pw=$(median <"$dir/pp_bpf")
	echo
	echo "libgp pingpong (bench/gpbench.c, 1,000,000 round trips between 2 green processes), ns per round trip:"
	echo
	echo "| how | ns per round trip | vs bare |"
	echo "|---|---|---|"
	awk -v b="$pb" -v w="$pw" 'BEGIN {
		printf "| bare | %.1f | |\n", b
		printf "| worker of spawnd, probes loaded, its threads watched | %.1f | %+.1f%% |\n", w, (w / b - 1) * 100
	}'
fi
echo
if [ "$SYSCALLS" = 1 ]; then
	sb=$(median <"$dir/sys_bare") sl=$(median <"$dir/sys_loaded") sw=$(median <"$dir/sys_watch")
	echo "What the probes cost a process spawnd does not supervise: \`perf bench syscall basic\`"
	echo "(10,000,000 getppid calls), microseconds per call:"
	echo
	echo "| how | us per system call | vs no spawnd |"
	echo "|---|---|---|"
	awk -v b="$sb" -v l="$sl" -v w="$sw" 'BEGIN {
		printf "| no spawnd running | %.3f | |\n", b
		printf "| beside spawnd, probes loaded, no worker with a stall_timeout | %.3f | %+.1f%% |\n", l, (l / b - 1) * 100
		printf "| beside spawnd, a worker watched for stalls (stall probe attached) | %.3f | %+.1f%% |\n", w, (w / b - 1) * 100
	}'
	echo
	echo "Raw (us): no spawnd $(tr '\n' ' ' <"$dir/sys_bare")/ probes loaded $(tr '\n' ' ' <"$dir/sys_loaded")/ stall probe attached $(tr '\n' ' ' <"$dir/sys_watch")"
else
	echo "The cost to other processes' system calls: skipped (no \`perf bench syscall\` here)."
fi
echo
echo "Raw (ms): bare $(tr '\n' ' ' <"$dir/bare")/ no-bpf $(tr '\n' ' ' <"$dir/nobpf")/ bpf $(tr '\n' ' ' <"$dir/bpf")"
