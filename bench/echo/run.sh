#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/echo/run.sh: a TCP echo benchmark, side by side in one run: the libgp
# server (bench/echo/echo_gp.c), Go (bench/echo/peers/echo.go), BEAM
# (bench/echo/peers/echo.erl) and a plain single-threaded io_uring loop
# (bench/echo/echo_uring.c, the ceiling), each driven by the same
# closed-loop client (bench/echo/loadgen.c) over 127.0.0.1, with 1 and 2
# schedulers where that applies, for each connection count and message
# size. Prints a markdown section on stdout; progress on stderr.
#
# The programs' paths come from the environment; what is neither given nor
# built yet is built here (libgp itself with `make build/libgp.a`):
#
#   ECHO_GP        libgp server           (build/bench/echo/echo_gp)
#   ECHO_URING     plain io_uring server  (build/bench/echo/echo_uring)
#   ECHO_GO        Go server              (build/bench/echo/go-echo)
#   ECHO_ERL_DIR   directory of echo.beam (build/bench/echo/erlang)
#   ECHO_LOADGEN   the client             (build/bench/echo/loadgen)
#
# Each server runs in its own session on a port the kernel picks, and is
# killed (its whole process group) after its run; every process this script
# starts is killed when it exits, however it exits. The implementations are
# interleaved run by run, so that machine noise hits all alike; the report
# shows medians. A run that fails is reported as failed with its reason,
# never dropped. System calls are counted in one extra, shorter run per
# server and configuration (see loadgen -S; strace -f -c when the kernel
# does not let loadgen count them).
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/echo/run.sh [-q] [-r RUNS] [-d SECONDS] [-w SECONDS] [-c CONNS]
                         [-s SIZES] [-i IMPLS] [-t THREADS]

Run the libgp, Go, BEAM and plain io_uring echo servers side by side under
the same closed-loop load and print a markdown report on stdout.

  -q          quick: 1 run, 3 s measured after 1 s of warm-up, 1 s for
              the system-call count
  -r RUNS     runs per server, configuration, connection count and size
              (default: $BENCH_RUNS, else 3); medians are shown
  -d SECONDS  measured time per run (default 10)
  -w SECONDS  warm-up before it (default 2)
  -c CONNS    connection counts (default "100 10000")
  -s SIZES    message sizes in bytes (default "64 4096")
  -i IMPLS    servers (default "libgp go beam uring")
  -t THREADS  loadgen threads (default 1)
  -h          this help

Environment: ECHO_GP, ECHO_URING, ECHO_GO, ECHO_ERL_DIR, ECHO_LOADGEN (the
programs; see the top of this script), BENCH_RUNS, ECHO_SYSCOUNT (perf, the
default: loadgen counts through perf_event_open; strace: strace -f -c over
the whole run). Relative paths are taken from the repository root.
EOF
}

die() {
	echo "run.sh: $*" >&2
	exit 2
}

# The command line for the report, with the settings taken from the environment.
CMDLINE=
for v in BENCH_RUNS ECHO_SYSCOUNT ECHO_GP ECHO_URING ECHO_GO ECHO_ERL_DIR ECHO_LOADGEN; do
	[ -z "${!v+x}" ] || CMDLINE+="$v=$(printf '%q' "${!v}") "
done
CMDLINE+="bench/echo/run.sh"
for a in "$@"; do
	if [[ $a =~ ^[A-Za-z0-9_./:,=+-]+$ ]]; then
		CMDLINE+=" $a"
	else
		CMDLINE+=" $(printf '%q' "$a")"
	fi
done

RUNS=
DURATION=
WARMUP=
CONNS="100 10000"
SIZES="64 4096"
IMPLS="libgp go beam uring"
THREADS=1
QUICK=0
while getopts ':qr:d:w:c:s:i:t:h' opt; do
	case $opt in
	q) QUICK=1 ;;
	r) RUNS=$OPTARG ;;
	d) DURATION=$OPTARG ;;
	w) WARMUP=$OPTARG ;;
	c) CONNS=${OPTARG//,/ } ;;
	s) SIZES=${OPTARG//,/ } ;;
	i) IMPLS=${OPTARG//,/ } ;;
	t) THREADS=$OPTARG ;;
	h) usage; exit 0 ;;
	:) usage >&2; die "option -$OPTARG needs an argument" ;;
	*) usage >&2; die "unknown option -$OPTARG" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; die "unexpected argument: $1"; }
# -q changes the defaults; options given still win.
if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}
	DURATION=${DURATION:-3}
	WARMUP=${WARMUP:-1}
	SYS_DURATION=1
else
	RUNS=${RUNS:-${BENCH_RUNS:-3}}
	DURATION=${DURATION:-10}
	WARMUP=${WARMUP:-2}
	SYS_DURATION=3
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer: $RUNS"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer: $THREADS"
[[ $DURATION =~ ^[0-9]*\.?[0-9]+$ ]] && [ "$DURATION" != 0 ] || die "bad duration: $DURATION"
[[ $WARMUP =~ ^[0-9]*\.?[0-9]+$ ]] || die "bad warm-up: $WARMUP"
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "bad connection count: $c"; done
for s in $SIZES; do [[ $s =~ ^[1-9][0-9]*$ ]] || die "bad size: $s"; done
for i in $IMPLS; do
	case $i in libgp | go | beam | uring) ;; *) die "unknown server: $i" ;; esac
done
[ -n "${CONNS// /}" ] && [ -n "${SIZES// /}" ] && [ -n "${IMPLS// /}" ] || die "nothing to run"
SYSCOUNT=${ECHO_SYSCOUNT:-perf}
case $SYSCOUNT in perf | strace) ;; *) die "ECHO_SYSCOUNT must be perf or strace" ;; esac

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
B=build/bench/echo

# ---- what to run, built if need be ----------------------------------------

CC=${CC:-gcc}
CFLAGS_ECHO=(-std=gnu17 -O2 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -Wshadow
	     -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers)
URING_LIBS=$(pkg-config --libs liburing 2>/dev/null) || URING_LIBS=-luring

# build WHAT: build one missing program; its output goes to stderr.
build() {
	local gplibs
	mkdir -p "$B"
	echo "run.sh: building $1" >&2
	case $1 in
	loadgen) "$CC" "${CFLAGS_ECHO[@]}" -o "$B/loadgen" bench/echo/loadgen.c $URING_LIBS -lpthread ;;
	uring) "$CC" "${CFLAGS_ECHO[@]}" -o "$B/echo_uring" bench/echo/echo_uring.c $URING_LIBS ;;
	libgp)
		make --no-print-directory build/libgp.a >&2 || return 1
		# libgp's own link flags, as the Makefile has them today.
		gplibs=$(make -s --no-print-directory --eval 'echo-var-%: ; @echo $($*)' \
			 echo-var-GP_LIBS 2>/dev/null) || gplibs="$URING_LIBS -lpthread"
		"$CC" "${CFLAGS_ECHO[@]}" -Isched -o "$B/echo_gp" bench/echo/echo_gp.c \
			build/libgp.a $gplibs ;;
	go)
		command -v go >/dev/null || { echo "run.sh: go not installed" >&2; return 1; }
		GOCACHE=$PWD/build/.gocache GOFLAGS=-mod=mod GO111MODULE=off \
			go build -o "$B/go-echo" bench/echo/peers/echo.go ;;
	beam)
		command -v erlc >/dev/null || { echo "run.sh: erlc not installed" >&2; return 1; }
		mkdir -p "$B/erlang"
		erlc -o "$B/erlang" bench/echo/peers/echo.erl ;;
	esac
}

ECHO_LOADGEN=${ECHO_LOADGEN:-}
if [ -z "$ECHO_LOADGEN" ]; then
	ECHO_LOADGEN=$B/loadgen
	[ -x "$ECHO_LOADGEN" ] || build loadgen >&2 || true
fi
[ -x "$ECHO_LOADGEN" ] || die "no load generator: $ECHO_LOADGEN not built"

# Why a server cannot run at all, or nothing; builds what is missing when
# its path was not given.
declare -A PROG NOTRUN DEFAULT_PROG
PROG[libgp]=${ECHO_GP:-}
PROG[uring]=${ECHO_URING:-}
PROG[go]=${ECHO_GO:-}
PROG[beam]=${ECHO_ERL_DIR:-}
DEFAULT_PROG=([libgp]=$B/echo_gp [uring]=$B/echo_uring [go]=$B/go-echo [beam]=$B/erlang)
present() {
	if [ "$1" = beam ]; then [ -f "${PROG[beam]}/echo.beam" ]; else [ -x "${PROG[$1]}" ]; fi
}
for i in $IMPLS; do
	given=1
	if [ -z "${PROG[$i]}" ]; then
		PROG[$i]=${DEFAULT_PROG[$i]}
		given=0
	fi
	if ! present "$i" && [ "$given" = 0 ]; then
		build "$i" >&2 || true
	fi
	if [ "$i" = beam ] && ! command -v erl >/dev/null; then
		NOTRUN[$i]="erl not installed"
	elif ! present "$i"; then
		if [ "$i" = beam ]; then
			NOTRUN[$i]="${PROG[$i]}/echo.beam not built"
		else
			NOTRUN[$i]="${PROG[$i]} not built"
		fi
	fi
done

# Configurations: IMPL:SCHEDULERS. The plain loop has one thread.
CONFIGS=
for i in $IMPLS; do
	if [ "$i" = uring ]; then
		CONFIGS+=" uring:1"
	else
		CONFIGS+=" $i:1 $i:2"
	fi
done

# ---- running ------------------------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/echobench.XXXXXX")
SERVER_PID=
LOADGEN_PID=

# Kill a server's whole process group, politely first.
stop_server() {
	local pid=$1
	kill -TERM -- "-$pid" 2>/dev/null || true
	for _ in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	[ -z "$LOADGEN_PID" ] || kill -KILL -- "-$LOADGEN_PID" 2>/dev/null || true
	[ -z "$SERVER_PID" ] || stop_server "$SERVER_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One descriptor per connection in each process, and then some.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

DATA=$TMP/runs.tsv	# conns size impl sched run status reason rps p50 p99 srvcpu othercpu lgcpu
			# conn_min_req conn_max_req
SYS=$TMP/sys.tsv	# conns size impl sched status reason spr method
FAILS=$TMP/failures.md
: >"$DATA"
: >"$SYS"
: >"$FAILS"

# server_cmd IMPL SCHEDULERS: the command line into CMD.
server_cmd() {
	case $1 in
	libgp) CMD=(env "GP_SCHEDULERS=$2" "${PROG[libgp]}" 0) ;;
	uring) CMD=("${PROG[uring]}" 0) ;;
	go) CMD=(env "GOMAXPROCS=$2" "${PROG[go]}" 0) ;;
	beam) CMD=(erl -noshell +S "$2:$2" -pa "${PROG[beam]}" -run echo main 0) ;;
	esac
}

# The last non-empty line of a file, safe inside a markdown table.
last_line() {
	grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1 | cut -c 1-200 | tr '`|' "'/" || true
}

# metric NAME: a value from the last loadgen output, or empty.
metric() {
	awk -v m="$1" '$1 == "loadgen" && $2 == m { v = $3 } END { print v }' "$TMP/lg.out"
}

# run_one CONNS SIZE IMPL SCHED RUN MODE: one run; MODE "time" appends to
# DATA, "sys" (with the system calls counted) to SYS.
run_one() {
	local conns=$1 size=$2 impl=$3 s=$4 run=$5 mode=$6
	local reason= port= rc=0 method=perf dur=$DURATION what
	local -a lgargs=(-c "$conns" -s "$size" -w "$WARMUP" -t "$THREADS")
	what="$conns conns, $size B, $impl $s, $([ "$mode" = sys ] && echo "syscalls" || echo "run $run")"

	: >"$TMP/srv.out"
	: >"$TMP/srv.err"
	: >"$TMP/lg.out"
	: >"$TMP/lg.err"
	reason=${NOTRUN[$impl]:-}
	if [ -z "$reason" ]; then
		server_cmd "$impl" "$s"
		if [ "$mode" = sys ]; then
			dur=$SYS_DURATION
			if [ "$SYSCOUNT" = strace ]; then
				method=strace
				if command -v strace >/dev/null; then
					CMD=(strace -f -c -o "$TMP/strace.out" "${CMD[@]}")
				else
					reason="strace not installed"
				fi
			fi
		fi
	fi
	if [ -z "$reason" ]; then
		# Its own session and process group: killed as a whole.
		setsid "${CMD[@]}" >"$TMP/srv.out" 2>"$TMP/srv.err" </dev/null &
		SERVER_PID=$!
		for _ in $(seq 300); do
			port=$(awk '$1 == "echo" && $2 == "listening" { print $3; exit }' "$TMP/srv.out")
			[ -z "$port" ] || break
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		if [ -z "$port" ]; then
			if kill -0 "$SERVER_PID" 2>/dev/null; then
				reason="server not listening after 30 s"
			else
				wait "$SERVER_PID" || rc=$?
				reason="server exited with status $rc before listening"
			fi
		fi
	fi
	if [ -z "$reason" ]; then
		lgargs+=(-d "$dur")
		if [ "$method" = strace ]; then
			:
		elif [ "$mode" = sys ]; then
			lgargs+=(-p "$SERVER_PID" -S)
		else
			lgargs+=(-p "$SERVER_PID")
		fi
		# In the background, so that the traps can kill it.
		timeout -k 5 "$(awk -v d="$dur" -v w="$WARMUP" -v c="$conns" \
			'BEGIN { printf "%d", d + w + 60 + c / 100 }')" \
			"$ECHO_LOADGEN" "${lgargs[@]}" "$port" >"$TMP/lg.out" 2>"$TMP/lg.err" &
		LOADGEN_PID=$!
		wait "$LOADGEN_PID" || rc=$?
		LOADGEN_PID=
		case $rc in
		0) ;;
		124 | 137) reason="loadgen timed out" ;;
		*) reason="loadgen exited with status $rc" ;;
		esac
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			rc=0
			wait "$SERVER_PID" || rc=$?
			reason="server died (status $rc) during the run${reason:+; $reason}"
			SERVER_PID=
		else
			stop_server "$SERVER_PID"
			SERVER_PID=
		fi
		local errors
		errors=$(metric errors)
		if [ -z "$reason" ] && [ -z "$(metric rps)" ]; then
			reason="no rps in loadgen's output"
		elif [ -z "$reason" ] && [ "${errors:-0}" != 0 ]; then
			reason="$errors connection errors"
		fi
	fi

	local out
	if [ "$mode" = time ]; then
		if [ -z "$reason" ]; then
			printf '%s\t%s\t%s\t%s\t%s\tok\t\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
				"$conns" "$size" "$impl" "$s" "$run" "$(metric rps)" \
				"$(metric p50_us)" "$(metric p99_us)" "$(metric server_cpu)" \
				"$(metric other_cpu)" "$(metric loadgen_cpu)" \
				"$(metric conn_min_req)" "$(metric conn_max_req)" \
				"$(metric server_kernel_pct)" >>"$DATA"
			out="$(metric rps) req/s, p50 $(metric p50_us) us, p99 $(metric p99_us) us, server $(metric server_cpu)% CPU, others $(metric other_cpu)%"
		else
			printf '%s\t%s\t%s\t%s\t%s\tfailed\t%s\n' "$conns" "$size" "$impl" "$s" \
				"$run" "$reason" >>"$DATA"
		fi
	else
		local spr=
		if [ -z "$reason" ] && [ "$method" = strace ]; then
			# Every system call of the server's whole life, over every
			# request it served (set-up echoes and warm-up included).
			local calls total
			calls=$(awk '$NF == "total" { print $4 }' "$TMP/strace.out" 2>/dev/null)
			total=$(metric requests_total)
			if [ -z "$calls" ]; then
				reason="no total in strace's summary"
			elif [ "${total:-0}" = 0 ]; then
				reason="no requests"
			else
				spr=$(awk -v a="$calls" -v b="$total" 'BEGIN { printf "%.4f", a / b }')
			fi
		elif [ -z "$reason" ]; then
			spr=$(metric syscalls_per_req)
			if [ -z "$spr" ]; then
				reason="syscalls not counted: $(awk '$2 == "syscalls_error" { $1 = $2 = ""; print substr($0, 3) }' "$TMP/lg.out")"
				[ "$reason" != "syscalls not counted: " ] || reason="no syscalls_per_req in loadgen's output"
			fi
		fi
		if [ -z "$reason" ]; then
			printf '%s\t%s\t%s\t%s\tok\t\t%s\t%s\n' "$conns" "$size" "$impl" "$s" \
				"$spr" "$method" >>"$SYS"
			out="$spr syscalls/request ($method)"
		else
			printf '%s\t%s\t%s\t%s\tfailed\t%s\n' "$conns" "$size" "$impl" "$s" \
				"$reason" >>"$SYS"
		fi
	fi
	if [ -n "$reason" ]; then
		local last
		last=$(last_line "$TMP/lg.err")
		[ -n "$last" ] || last=$(last_line "$TMP/srv.err")
		reason+="${last:+ (stderr: \`$last\`)}"
		printf -- '- %s: %s\n' "$what" "$reason" >>"$FAILS"
		echo "run.sh:   $impl $s: FAILED: $reason" >&2
		# Keep the server's complaints for the report's reader.
		if [ -s "$TMP/srv.err" ]; then
			sed 's/^/run.sh:     server: /' "$TMP/srv.err" | head -n 5 >&2
		fi
	else
		echo "run.sh:   $impl $s: $out" >&2
	fi
}

LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
T_START=$(date +%s)
ncells=0
for _ in $CONNS; do for _ in $SIZES; do ncells=$((ncells + 1)); done; done
echo "run.sh: $RUNS run(s) of ${WARMUP}+${DURATION} s per cell, $ncells cells," \
	"servers:$CONFIGS" >&2
for conns in $CONNS; do
	for size in $SIZES; do
		for run in $(seq "$RUNS"); do
			echo "run.sh: [$conns connections, $size bytes, run $run/$RUNS]" >&2
			for cf in $CONFIGS; do
				run_one "$conns" "$size" "${cf%%:*}" "${cf##*:}" "$run" time
			done
		done
		echo "run.sh: [$conns connections, $size bytes, system calls]" >&2
		for cf in $CONFIGS; do
			run_one "$conns" "$size" "${cf%%:*}" "${cf##*:}" 0 sys
		done
	done
done
T_END=$(date +%s)

# ---- the report -----------------------------------------------------------------

# shellcheck source=bench/machine.sh
. bench/machine.sh
machine_facts "${PROG[go]:-$B/go-echo}" "$CC"
uringver=$(pkg-config --modversion liburing 2>/dev/null) || uringver="n/a"
somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null) || somaxconn="n/a"
if [ "$SYSCOUNT" = perf ]; then
	sysdesc="raw_syscalls:sys_enter of every server thread, counted by loadgen (perf_event_open) over the measured window of one extra ${SYS_DURATION} s run, over the requests of that window"
else
	sysdesc="strace -f -c over the whole life of one extra ${SYS_DURATION} s run (set-up and warm-up included), over every request the server served; strace slows the server, only the count is used"
fi

cat <<EOF
## TCP echo: libgp vs Go vs BEAM vs a plain io_uring loop

Generated by \`$CMDLINE\` on $(date '+%Y-%m-%d %H:%M:%S %Z'), in $(((T_END - T_START) / 60)) min.

| | |
|---|---|
| Kernel | $(uname -r) |
| CPU | $cpu_model, $cpu_count CPUs |
| Memory | $mem |
| Load average before | $LOAD_BEFORE |
| Erlang | $otp |
| Go | $gover |
| C compiler | $gccver, liburing $uringver |
| Limits | RLIMIT_NOFILE $NOFILE, net.core.somaxconn $somaxconn |
| Runs | $RUNS per cell, servers interleaved run by run; medians shown |
| Load | \`$ECHO_LOADGEN -c CONNS -s SIZE -w $WARMUP -d $DURATION -t $THREADS PORT\`: CONNS connections to 127.0.0.1, each sending SIZE bytes and waiting for the whole echo before the next (closed loop), $WARMUP s of warm-up then $DURATION s measured; $THREADS io_uring thread(s) |
| libgp | \`GP_SCHEDULERS=S ${PROG[libgp]:-$B/echo_gp} 0\` (a process per connection) |
| Go | \`GOMAXPROCS=S ${PROG[go]:-$B/go-echo} 0\` (a goroutine per connection) |
| BEAM | \`erl -noshell +S S:S -pa ${PROG[beam]:-$B/erlang} -run echo main 0\` (a process per connection, {active, once}) |
| plain | \`${PROG[uring]:-$B/echo_uring} 0\` (one thread, one io_uring, one operation per connection in flight) |
| System calls | $sysdesc |

EOF

awk -F '\t' -v runs="$RUNS" -v configs="$CONFIGS" -v connsl="$CONNS" -v sizesl="$SIZES" \
    -v sysfile="$SYS" '
	function num(v) {
		return v >= 1000 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v)
	}
	function grp(v,    s, out) { # thousands separators
		s = sprintf("%.0f", v)
		out = ""
		while (length(s) > 3) {
			out = "," substr(s, length(s) - 2) out
			s = substr(s, 1, length(s) - 3)
		}
		return s out
	}
	# median of the n values in x[1..n]
	function med(x, n,    a, b, t) {
		for (a = 2; a <= n; a++)
			for (b = a; b > 1 && x[b - 1] + 0 > x[b] + 0; b--) {
				t = x[b]; x[b] = x[b - 1]; x[b - 1] = t
			}
		return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
	}
	# median of column col over the ok runs of cell k, "" if none
	function mcol(k, col,    x, i, n) {
		n = 0
		for (i = 1; i <= nrun[k]; i++)
			if (st[k, i] == "ok" && val[k, i, col] != "")
				x[++n] = val[k, i, col]
		return n ? med(x, n) : ""
	}
	function nameof(impl, s) {
		return impl == "libgp" ? "libgp" : impl == "go" ? "Go" : impl == "beam" ? "BEAM" : "plain io_uring"
	}
	function rps(k) { return mcol(k, 8) }
	# The fewest and the most requests one connection completed in a
	# window, over the runs.
	function fair(k,    i, lo, hi) {
		lo = hi = ""
		for (i = 1; i <= nrun[k]; i++) {
			if (st[k, i] != "ok" || val[k, i, 14] == "")
				continue
			if (lo == "" || val[k, i, 14] + 0 < lo + 0)
				lo = val[k, i, 14]
			if (hi == "" || val[k, i, 15] + 0 > hi + 0)
				hi = val[k, i, 15]
		}
		return lo == "" ? "n/a" : grp(lo) "-" grp(hi)
	}
	# requests per server CPU-second: the median over the runs
	function eff(k,    x, i, n) {
		n = 0
		for (i = 1; i <= nrun[k]; i++)
			if (st[k, i] == "ok" && val[k, i, 11] + 0 > 0)
				x[++n] = val[k, i, 8] / (val[k, i, 11] / 100)
		return n ? med(x, n) : ""
	}
	# The ratio of a (libgp, cell ka) to b (bname, cell kb), or why there is none.
	# The table of libgp over each other server, of req/s ("rps") or of
	# requests per server CPU-second ("eff").
	function ratio_table(metric,    a, b, q, s, peer, ka, kb, line) {
		print "| connections | bytes | libgp/Go 1 | libgp/Go 2 | libgp/BEAM 1 | libgp/BEAM 2 | libgp 1/plain | libgp 2/plain |"
		print "|--:|--:|--:|--:|--:|--:|--:|--:|"
		for (a = 1; a <= nc; a++)
			for (b = 1; b <= ns; b++) {
				line = "| " grp(cl[a]) " | " sl[b]
				for (q = 1; q <= 3; q++) {
					peer = q == 1 ? "go" : q == 2 ? "beam" : "uring"
					for (s = 1; s <= 2; s++) {
						ka = cl[a] SUBSEP sl[b] SUBSEP "libgp" SUBSEP s
						kb = cl[a] SUBSEP sl[b] SUBSEP peer SUBSEP (peer == "uring" ? 1 : s)
						line = line " | " (metric == "rps" ? ratio(rps(ka), rps(kb), nameof(peer), ka, kb) \
								   : ratio(eff(ka), eff(kb), nameof(peer), ka, kb))
					}
				}
				print line " |"
			}
	}
	# The ratio libgp (cell ka) would reach over cell kb per server CPU-s
	# if its user-space time were zero: its kernel time per request only.
	function ceiling(ka, kb,    e, k, o) {
		e = eff(ka)
		k = mcol(ka, 16)
		o = eff(kb)
		if (e == "" || k == "" || k + 0 == 0 || o == "" || o + 0 == 0)
			return "n/a"
		return sprintf("%.2f", e / (k / 100) / o)
	}
	function ratio(a, b, bname, ka, kb) {
		if (a == "")
			return nrun[ka] ? "n/a (libgp failed)" : "n/a (libgp not run)"
		if (b == "")
			return nrun[kb] ? "n/a (" bname " failed)" : "n/a (" bname " not run)"
		if (b + 0 == 0)
			return "n/a (" bname " is 0)"
		return sprintf("%.2f", a / b)
	}
	BEGIN {
		while ((getline line < sysfile) > 0) {
			split(line, f, "\t")
			k = f[1] SUBSEP f[2] SUBSEP f[3] SUBSEP f[4]
			sysst[k] = f[5]
			sysv[k] = f[5] == "ok" ? f[7] : f[6]
			sysm[k] = f[8]
		}
	}
	{
		k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
		i = ++nrun[k]
		st[k, i] = $6
		why[k, i] = $7
		for (c = 8; c <= 16; c++)
			val[k, i, c] = $c
	}
	END {
		nconf = split(configs, cf, " ")
		nc = split(connsl, cl, " ")
		ns = split(sizesl, sl, " ")

		print "### Requests per second, latency, system calls"
		print ""
		print "| connections | bytes | server | sched | req/s | p50 µs | p99 µs | server CPU % | of it in the kernel % | req per server CPU-s | req per connection, min-max | syscalls/req | req/s, every run |"
		print "|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
		for (a = 1; a <= nc; a++)
			for (b = 1; b <= ns; b++)
				for (j = 1; j <= nconf; j++) {
					split(cf[j], p, ":")
					k = cl[a] SUBSEP sl[b] SUBSEP p[1] SUBSEP p[2]
					nok = 0
					all = ""
					reason = ""
					for (i = 1; i <= nrun[k]; i++) {
						if (st[k, i] == "ok") {
							nok++
							all = all (all == "" ? "" : ", ") grp(val[k, i, 8])
						} else {
							all = all (all == "" ? "" : ", ") "failed"
							if (reason == "")
								reason = why[k, i]
						}
					}
					line = "| " grp(cl[a]) " | " sl[b] " | " nameof(p[1]) " | " p[2]
					if (nok == 0) {
						line = line " | failed (" (nrun[k] + 0) "/" (nrun[k] + 0) " runs: " reason ") | | | | | |"
					} else {
						r = rps(k)
						cpu = mcol(k, 11)
						e = eff(k)
						kp = mcol(k, 16)
						line = line " | " grp(r) (nok < nrun[k] ? " (" nrun[k] - nok "/" nrun[k] " runs failed)" : "") \
						       " | " num(mcol(k, 9)) " | " num(mcol(k, 10)) " | " (cpu == "" ? "n/a" : sprintf("%.0f", cpu)) \
						       " | " (kp == "" ? "n/a" : sprintf("%.0f", kp)) \
						       " | " (e == "" ? "n/a" : grp(e)) " | " fair(k)
					}
					if (!(k in sysst))
						sy = "not run"
					else if (sysst[k] == "ok")
						sy = sprintf(sysv[k] >= 1 ? "%.2f" : "%.3f", sysv[k]) (sysm[k] == "strace" ? " (strace)" : "")
					else
						sy = "failed: " sysv[k]
					print line " | " sy " | " all " |"
				}
		print ""
		print "Medians of the runs that did not fail. Server CPU is the CPU time of all the server'"'"'s threads in the measured window, in % of one CPU; req per server CPU-s divides the requests by it: the server'"'"'s own cost, whatever the load generator got of the machine. Req per connection: the fewest and the most requests a single connection completed in one measured window, over all runs (a fair server keeps them close)."

		print ""
		print "### Ratios"
		print ""
		print "Throughput (req/s) of libgp over each other server, medians; the plain loop has one thread, so libgp with 1 and with 2 schedulers is compared with that one."
		print ""
		ratio_table("rps")

		print ""
		print "Requests per server CPU-second (the server'"'"'s own cost per request, whatever share of the machine it got), libgp over each other server:"
		print ""
		ratio_table("eff")

		print ""
		print "### Targets"
		print ""
		print "| target | connections, bytes | measured (1 / 2 schedulers) | met | ceiling (1 / 2 schedulers) |"
		print "|---|---|---|---|---|"
		for (t = 1; t <= 4; t++)
			for (a = 1; a <= nc; a++)
				for (b = 1; b <= ns; b++) {
					if (t == 4 && cl[a] != 10000)
						continue
					out = ""
					ceil = ""
					met = 1
					na = 0
					for (s = 1; s <= 2; s++) {
						kg = cl[a] SUBSEP sl[b] SUBSEP "libgp" SUBSEP s
						if (t == 4) {
							ok = sysst[kg] == "ok"
							v = ok ? sysv[kg] : ""
							if (!ok) { na = 1; out = out (s > 1 ? " / " : "") "n/a"; continue }
							met = met && v + 0 < 0.2
							out = out (s > 1 ? " / " : "") sprintf("%.3f", v)
							continue
						}
						peer = t == 1 ? "go" : t == 2 ? "beam" : "uring"
						g = rps(kg)
						o = rps(cl[a] SUBSEP sl[b] SUBSEP peer SUBSEP (peer == "uring" ? 1 : s))
						if (g == "" || o == "" || o + 0 == 0) {
							na = 1
							out = out (s > 1 ? " / " : "") "n/a"
							ceil = ceil (s > 1 ? " / " : "") "n/a"
							continue
						}
						bound = t == 1 ? 1.5 : t == 2 ? 3 : 0.9
						met = met && g / o >= bound
						out = out (s > 1 ? " / " : "") sprintf("%.2f", g / o)
						ceil = ceil (s > 1 ? " / " : "") ceiling(kg, cl[a] SUBSEP sl[b] SUBSEP peer SUBSEP (peer == "uring" ? 1 : s))
					}
					name = t == 1 ? "throughput at least 1.5x Go'"'"'s" : t == 2 ? "throughput at least 3x BEAM'"'"'s" : \
					       t == 3 ? "within 10% of the plain io_uring loop (ratio >= 0.90)" : \
					       "under 0.2 system calls per request at 10,000 connections"
					print "| " name " | " grp(cl[a]) ", " sl[b] " | " out (t == 4 ? " syscalls/req" : "") " | " (na ? "not measured" : met ? "yes" : "no") " | " ceil " |"
				}
		print ""
		print "Ceiling: the most libgp could reach over that server, per server CPU-second, if everything libgp itself does in user space (scheduling, switching, its I/O layer) cost nothing: requests per CPU-second of libgp'"'"'s kernel time alone over the other server'"'"'s requests per CPU-second. The rest is kernel time (TCP on loopback, and the io_uring operations themselves): where the ceiling is under a target, no change to libgp'"'"'s user-space code can meet it on this machine."
	}' "$DATA"

echo
echo "### Other load on the machine"
echo
awk -F '\t' '$6 == "ok" && $12 != "" { x[++n] = $12 }
	END {
		if (!n) { print "Not measured."; exit }
		for (a = 2; a <= n; a++)
			for (b = a; b > 1 && x[b - 1] + 0 > x[b] + 0; b--) { t = x[b]; x[b] = x[b - 1]; x[b - 1] = t }
		printf "CPU used by processes other than the server and loadgen during the measured windows, in %% of one CPU: median %.0f, max %.0f over %d runs. The load generator shares the machine with the server: on few CPUs, what one takes the other lacks.\n", n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2, x[n], n
	}' "$DATA"

echo
echo "### Failed runs"
echo
if [ -s "$FAILS" ]; then
	cat "$FAILS"
else
	echo "None."
fi
