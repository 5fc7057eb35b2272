#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/supervise/run.sh: spawnd side by side with runit (runsvdir/runsv),
# s6 (s6-svscan/s6-supervise) and supervisord, and a bare fork/exec/wait
# loop, on the same workloads, in one run:
#
#   restart   a child that records its start and exits 1 at once: the time
#             between consecutive starts (p50/p99). spawnd (intensity
#             1000000 per second, no backoff) and the bare loop alternate in
#             rounds, so that machine noise hits both alike.
#   idle      100 children that sleep: the supervisor processes' context
#             switches over BENCH_IDLE_SECONDS (the four run at once).
#   memory    USS (Private_Clean + Private_Dirty of smaps_rollup) of the
#             supervisor processes with 1 child and with N: the slope per
#             child and the total at N.
#   start     time from launching the supervisor until N children have all
#             recorded their start; stop: from the stop request until they
#             have all exited.
#   grandchild  a child that leaves a grandchild in a session of its own:
#             kill -9 the child, then stop the service: does the grandchild
#             survive?
#
# The children and probes are bench/supervise/svbench.c, built by this script
# into its temporary directory. A markdown section goes to stdout, progress to
# stderr. Everything lives in a mktemp -d directory, removed at exit; every
# process started is killed at exit, on failure too.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/supervise/run.sh [-q] [-h]

Benchmark spawnd against runit, s6 and supervisord (restart latency, idle
wake-ups, memory per child, start and stop of N children, grandchildren
after a crash and a stop) and print a markdown section on stdout.

  -q   quick run: fewer restarts, 5 s idle, 100 children instead of 1000
  -h   this help

Environment: SPAWND (build/spawnd; relative to the repository root),
BENCH_IDLE_SECONDS (30, or 5 with -q), CC (gcc). Needs root, and the Debian
packages runit, s6 and supervisor.
EOF
}

QUICK=0
while getopts qh opt; do
	case $opt in
	q) QUICK=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if (($#)); then
	usage >&2
	exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/supervise
SPAWND=${SPAWND:-build/spawnd}
[[ $SPAWND == /* ]] || SPAWND=$ROOT/$SPAWND
CC=${CC:-gcc}

if ((QUICK)); then
	NCHILD=100 FAST_RESTARTS=40 SLOW_RESTARTS=4 ROUNDS=2 SCALE_RUNS=1
	IDLE_S=${BENCH_IDLE_SECONDS:-5}
else
	NCHILD=1000 FAST_RESTARTS=200 SLOW_RESTARTS=20 ROUNDS=4 SCALE_RUNS=3
	IDLE_S=${BENCH_IDLE_SECONDS:-30}
fi
IDLE_CHILDREN=100
KINDS=(spawnd runit s6 supervisord)

log() { printf 'supervise: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (spawnd's cgroups, the supervisors' directories)"
[[ -x $SPAWND ]] || die "no spawnd at $SPAWND (make build/spawnd, or set SPAWND)"
for tool in runsvdir sv s6-svscan s6-svscanctl s6-svc supervisord supervisorctl "$CC"; do
	command -v "$tool" >/dev/null ||
		die "$tool not found (Debian packages: runit s6 supervisor gcc)"
done
[[ $IDLE_S =~ ^[0-9]+$ ]] || die "BENCH_IDLE_SECONDS must be a number of seconds"

T=$(mktemp -d /tmp/svbench.XXXXXX)
SVB=$T/bin/svbench
declare -A LIVE=()    # pid -> kind, for every supervisor started and not yet reaped
declare -A SPAWNDS=() # every spawnd started, for its cgroups

cleanup() {
	local rc=$? pid pids i
	set +e
	trap - EXIT INT TERM
	# Everything started has $T in its command line or working directory:
	# the supervisors first, then what is left (children, leaked grandchildren).
	if [[ -x $SVB ]]; then
		for ((i = 0; i < 100; i++)); do
			pids=$("$SVB" scan "$T")
			[[ -n $pids ]] || break
			for pid in $pids; do
				[[ -n ${LIVE[$pid]:-} ]] && kill -KILL "$pid" 2>/dev/null
			done
			# shellcheck disable=SC2086 # a list of pids
			kill -KILL $pids 2>/dev/null
			sleep 0.05
		done
	else
		for pid in "${!LIVE[@]}"; do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	wait 2>/dev/null
	for pid in "${!SPAWNDS[@]}"; do
		rm_spawnd_cgroups "$pid"
	done
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The groups a spawnd killed with SIGKILL left behind, emptied by then.
rm_spawnd_cgroups() {
	local d
	while IFS= read -r d; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done < <(find /sys/fs/cgroup -maxdepth 6 -type d -name "spawnd.$1" 2>/dev/null)
}

mkdir -p "$T/bin" "$T/data"
log "building svbench"
"$CC" -std=gnu17 -O2 -Wall -Wextra -Werror -o "$SVB" "$HERE/svbench.c"
# a copy, so that a rebuild during the run cannot mix two versions
cp "$SPAWND" "$T/bin/spawnd"
SPAWND_SRC=$SPAWND SPAWND=$T/bin/spawnd

# ---- configuration of each supervisor -----------------------------------------

# setup KIND DIR N MODE FILE: a tree of N children "svbench MODE FILE".
setup() {
	local kind=$1 dir=$2 n=$3 mode=$4 file=$5 i name
	mkdir -p "$dir"
	case $kind in
	spawnd)
		local intensity=10 period=5
		if [[ $mode == crash ]]; then
			intensity=1000000 period=1
		fi
		{
			printf 'name = "bench";\nintensity = %d;\nperiod = %d;\nchildren = (\n' \
				"$intensity" "$period"
			local sep=,
			for ((i = 1; i <= n; i++)); do
				((i < n)) || sep=
				printf '  { name = "c%04d"; exec = [ "%s", "%s", "%s" ]; }%s\n' \
					"$i" "$SVB" "$mode" "$file" "$sep"
			done
			printf ');\n'
		} >"$dir/spawnd.conf"
		;;
	runit | s6)
		# the service directories, each with run -> svbench and its arguments
		local top=$dir/service
		[[ $kind == s6 ]] && top=$dir/scan
		mkdir -p "$top"
		for ((i = 1; i <= n; i++)); do
			printf -v name 'c%04d' "$i"
			mkdir "$top/$name"
			ln -s "$SVB" "$top/$name/run"
			printf '%s %s\n' "$mode" "$file" >"$top/$name/bench.args"
		done
		# runsvdir does not scan a directory changed within the current
		# second before the next one: as if set up well before the start
		touch -d '1 minute ago' "$top"
		;;
	supervisord)
		mkdir -p "$dir/log"
		local startsecs=1
		[[ $mode == crash ]] && startsecs=0 # else it gives up after startretries
		cat >"$dir/supervisord.conf" <<EOF
[unix_http_server]
file=%(here)s/supervisor.sock

[supervisord]
nodaemon=true
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s/log

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/supervisor.sock

[program:c]
command=$SVB $mode $file
process_name=%(program_name)s_%(process_num)04d
numprocs=$n
directory=%(here)s
autorestart=true
startsecs=$startsecs
startretries=1000000
EOF
		;;
	esac
}

# start KIND DIR [file]: launch it in the background; SUP is its pid. Its
# stdout and stderr go to a pipe, read by cat into DIR/out.log (as under
# systemd, whose journal reads a socket); with "file", straight to the file.
start() {
	local kind=$1 dir=$2 out=$2/out.log
	if [[ ${3:-} != file ]]; then
		out=$dir/log.fifo
		mkfifo "$out"
		cat "$out" >"$dir/out.log" &
	fi
	case $kind in
	spawnd) "$SPAWND" -c "$dir/spawnd.conf" -s "$dir/control" </dev/null >"$out" 2>&1 & ;;
	runit) runsvdir "$dir/service" </dev/null >"$out" 2>&1 & ;;
	s6) s6-svscan -c $((2 * NCHILD + 100)) "$dir/scan" </dev/null >"$out" 2>&1 & ;;
	supervisord) supervisord -n -c "$dir/supervisord.conf" </dev/null >"$out" 2>&1 & ;;
	esac
	SUP=$!
	LIVE[$SUP]=$kind
	[[ $kind == spawnd ]] && SPAWNDS[$SUP]=1
	return 0
}

# procs KIND PID: the supervisor's own processes.
procs() {
	echo "$2"
	case $1 in
	spawnd) "$SVB" children "$2" spawnd-guard ;;
	runit) "$SVB" children "$2" runsv ;;
	s6) "$SVB" children "$2" s6-supervise ;;
	esac
}

# stop_cmd KIND DIR PID: the normal way to stop every child, into STOP.
stop_cmd() {
	case $1 in
	spawnd | supervisord) STOP=(kill -TERM "$3") ;;
	runit) STOP=(sv down "$2"/service/*) ;;
	s6) STOP=(s6-svscanctl -t "$2/scan") ;;
	esac
}

# reap PID SECONDS: wait for a supervisor to exit, SIGKILL it past SECONDS;
# sets STATUS (its exit status, or "killed").
reap() {
	local pid=$1 i
	STATUS=
	for ((i = 0; i < $2 * 20; i++)); do
		"$SVB" alive "$pid" || break
		sleep 0.05
	done
	if "$SVB" alive "$pid"; then
		log "pid $pid (${LIVE[$pid]}) did not exit: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		STATUS=killed
	fi
	local st=0
	wait "$pid" 2>/dev/null || st=$?
	[[ -n $STATUS ]] || STATUS=$st
	[[ ${LIVE[$pid]} == spawnd && $STATUS == killed ]] && rm_spawnd_cgroups "$pid"
	unset "LIVE[$pid]"
	return 0
}

# finish KIND DIR PID: make the supervisor exit, then kill whatever is left
# of its tree (leaked grandchildren, orphaned runsv).
finish() {
	local kind=$1 dir=$2 pid=$3 pids i
	if "$SVB" alive "$pid"; then
		case $kind in
		spawnd | supervisord) kill -TERM "$pid" 2>/dev/null || true ;;
		runit) kill -HUP "$pid" 2>/dev/null || true ;; # TERM to each runsv, exit
		s6) s6-svscanctl -t "$dir/scan" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true ;;
		esac
	fi
	reap "$pid" 60
	for ((i = 0; i < 100; i++)); do
		pids=$("$SVB" scan "$dir")
		[[ -n $pids ]] || return 0
		sleep 0.05
	done
	log "$kind: processes left in $dir: SIGKILL"
	# shellcheck disable=SC2086 # a list of pids
	kill -KILL $pids 2>/dev/null || true
	return 0
}

# ---- statistics -----------------------------------------------------------------

# deltas FILE N: the N intervals between the first N+1 starts, in ms.
deltas() { awk -v n="$2" 'NR > n + 1 { exit } NR > 1 { printf "%.4f\n", ($1 - p) / 1e6 } { p = $1 }' "$1"; }

# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE.
pct() {
	sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		if (!NR) { print "nan"; exit }
		r = int(p / 100 * NR); if (r < p / 100 * NR) r++; if (r < 1) r = 1
		print v[r] }'
}

# fmt_ms X: 3 significant figures or so.
fmt_ms() { awk -v x="$1" 'BEGIN { if (x == "nan") print "failed"; else if (x >= 100) printf "%.0f", x; else if (x >= 10) printf "%.1f", x; else printf "%.2f", x }'; }

declare -A R=() # results: R[kind.metric]
for kind in bare "${KINDS[@]}" spawnd_file; do
	for m in p50 p99 restart_n idle idle_main idle_procs idle_threads procnames uss1 ussN ussN_procs start stop gcrash gstop; do
		R[$kind.$m]=failed
	done
	R[$kind.p50]=nan R[$kind.p99]=nan R[$kind.restart_n]=0
done

# ---- 1. restart after an immediate exit ----------------------------------------

# restart_run KIND N OUT: one supervisor, N restarts, the intervals appended to OUT.
restart_run() {
	local kind=$1 n=$2 out=$3 dir file timeout rc=0
	dir=$(mktemp -d "$T/$kind-restart.XXXX")
	file=$dir/starts
	timeout=$(((n + 1) * 3 + 15))
	if [[ $kind == bare ]]; then
		"$SVB" loop $((n + 1)) "$SVB" crash "$file"
	else
		setup "$kind" "$dir" 1 crash "$file"
		start "$kind" "$dir"
		local pid=$SUP
		"$SVB" waitlines "$file" $((n + 1)) "$timeout" "$pid" || rc=$?
		finish "$kind" "$dir" "$pid"
		if ((rc)); then
			log "$kind: only $(wc -l <"$file") starts of $((n + 1)) (exit status $STATUS); log:"
			tail -n 5 "$dir/out.log" >&2 || true
			return 1
		fi
	fi
	deltas "$file" "$n" >>"$out"
	rm -rf "$dir"
}

bench_restart() {
	local kind out r per=$((FAST_RESTARTS / ROUNDS))
	for kind in bare spawnd runit s6 supervisord; do
		: >"$T/data/restart.$kind"
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		log "restart: round $r of $ROUNDS: bare loop and spawnd, $per restarts each"
		restart_run bare "$per" "$T/data/restart.bare" || true
		restart_run spawnd "$per" "$T/data/restart.spawnd" || true
	done
	for kind in runit s6 supervisord; do
		log "restart: $kind, $SLOW_RESTARTS restarts (about 1 s each)"
		restart_run "$kind" "$SLOW_RESTARTS" "$T/data/restart.$kind" || true
	done
	for kind in bare spawnd runit s6 supervisord; do
		out=$T/data/restart.$kind
		R[$kind.restart_n]=$(wc -l <"$out")
		R[$kind.p50]=$(pct "$out" 50)
		R[$kind.p99]=$(pct "$out" 99)
		log "restart: $kind: ${R[$kind.restart_n]} restarts, p50 ${R[$kind.p50]} ms, p99 ${R[$kind.p99]} ms"
	done
}

# ---- 2. idle wake-ups --------------------------------------------------------------

# Besides the four, a second spawnd whose stderr is a regular file rather than
# a pipe: its log writes go through io_uring, whose worker thread may stay.
bench_idle() {
	local inst kind mode dir failed c1 m1
	local -A pidof=() c0=() m0=() list=() ok=()
	local insts=("${KINDS[@]}" spawnd_file)
	log "idle: $IDLE_CHILDREN sleeping children under each supervisor, all at once"
	for inst in "${insts[@]}"; do
		dir=$T/$inst-idle
		kind=${inst%_file} mode=pipe
		[[ $inst == *_file ]] && mode="file"
		setup "$kind" "$dir" "$IDLE_CHILDREN" up "$dir/starts"
		start "$kind" "$dir" "$mode"
		pidof[$inst]=$SUP
	done
	for inst in "${insts[@]}"; do
		dir=$T/$inst-idle
		failed=0
		"$SVB" waitlines "$dir/starts" "$IDLE_CHILDREN" 120 "${pidof[$inst]}" || failed=1
		if ((failed)); then
			log "idle: $inst: only $(wc -l <"$dir/starts") of $IDLE_CHILDREN children started"
		fi
		ok[$inst]=$((!failed))
	done
	sleep 3 # settle: supervisord's startsecs, runsv's first second
	for inst in "${insts[@]}"; do
		list[$inst]=$(procs "${inst%_file}" "${pidof[$inst]}" | tr '\n' ' ')
		# shellcheck disable=SC2086 # a list of pids
		c0[$inst]=$("$SVB" ctxsw ${list[$inst]})
		# shellcheck disable=SC2086 # a list of pids
		m0[$inst]=$("$SVB" ctxsw-main ${list[$inst]})
	done
	log "idle: counting context switches for $IDLE_S s"
	sleep "$IDLE_S"
	for inst in "${insts[@]}"; do
		# shellcheck disable=SC2086 # a list of pids
		c1=$("$SVB" ctxsw ${list[$inst]})
		# shellcheck disable=SC2086 # a list of pids
		m1=$("$SVB" ctxsw-main ${list[$inst]})
		if ((ok[$inst])); then
			R[$inst.idle]=$((c1 - ${c0[$inst]}))
			R[$inst.idle_main]=$((m1 - ${m0[$inst]}))
		fi
		R[$inst.idle_procs]=$(wc -w <<<"${list[$inst]}")
		R[$inst.idle_threads]=$(for p in ${list[$inst]}; do
			for t in /proc/"$p"/task/*/comm; do cat "$t" || true; done
		done 2>/dev/null | sort | uniq -c | awk '{ printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1 }')
		log "idle: $inst: ${R[$inst.idle]} wake-ups in $IDLE_S s (main threads ${R[$inst.idle_main]})" \
			"over ${R[$inst.idle_procs]} processes; threads: ${R[$inst.idle_threads]}"
	done
	for inst in "${insts[@]}"; do
		finish "${inst%_file}" "$T/$inst-idle" "${pidof[$inst]}"
	done
}

# ---- 3 and 4. memory per child, start and stop N children ---------------------

# uss_of KIND PID: the supervisor processes' USS in KiB into USS, their
# number into NPROCS.
uss_of() {
	local list
	list=$(procs "$1" "$2" | tr '\n' ' ')
	NPROCS=$(wc -w <<<"$list")
	# shellcheck disable=SC2086 # a list of pids
	USS=$("$SVB" uss $list)
}

# scale_run KIND: start NCHILD children, measure, stop them; the start and
# stop times (s) and the USS (KiB) appended to $T/data/scale.KIND.*.
scale_run() {
	local kind=$1 dir pid rc t0 last out
	local data=$T/data/scale.$kind
	dir=$T/$kind-scale
	setup "$kind" "$dir" "$NCHILD" up "$dir/starts"
	sync
	t0=$EPOCHREALTIME
	start "$kind" "$dir"
	pid=$SUP
	rc=0
	"$SVB" waitlines "$dir/starts" "$NCHILD" 300 "$pid" || rc=$?
	if ((rc)); then
		log "scale: $kind: only $(wc -l <"$dir/starts") of $NCHILD children started; log:"
		tail -n 5 "$dir/out.log" >&2 || true
		finish "$kind" "$dir" "$pid"
		rm -rf "$dir"
		return 0
	fi
	last=$(sort -n "$dir/starts" | tail -n 1 | cut -d' ' -f1)
	awk -v a="$last" -v b="${t0/./}" 'BEGIN { printf "%.3f\n", (a / 1000 - b) / 1e6 }' >>"$data.start"
	sleep 3
	uss_of "$kind" "$pid"
	echo "$USS" >>"$data.uss"
	R[$kind.ussN_procs]=$NPROCS
	R[$kind.procnames]=$(procs "$kind" "$pid" | while read -r p; do cat "/proc/$p/comm" || true; done 2>/dev/null |
		sort | uniq -c | awk '{ printf "%s%s%s", (NR > 1 ? ", " : ""), $2, ($1 > 1 ? " x" $1 : "") }')
	stop_cmd "$kind" "$dir" "$pid"
	out=$("$SVB" stopwait "$dir/starts" 120 -- "${STOP[@]}")
	if [[ $out == timeout* ]]; then
		log "scale: $kind: stop: ${out#timeout } children still running after 120 s"
	else
		awk -v x="$out" 'BEGIN { printf "%.3f\n", x / 1000 }' >>"$data.stop"
	fi
	finish "$kind" "$dir" "$pid"
	log "scale: $kind: started in $(tail -n 1 "$data.start") s, USS $USS KiB in $NPROCS processes," \
		"stopped in $(tail -n 1 "$data.stop" 2>/dev/null || echo '?') s"
	rm -rf "$dir"
}

# median FILE: the median of the numbers in FILE into MEDIAN, "min-max" into
# RANGE ("failed" and "-" if there are none).
median() {
	local out
	out=$(sort -g "$1" 2>/dev/null | awk '{ v[NR] = $1 } END {
		if (!NR) { print "failed -"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m, v[1] "-" v[NR] }')
	MEDIAN=${out%% *} RANGE=${out#* }
}

bench_scale() {
	local kind dir pid rc r
	for kind in "${KINDS[@]}"; do
		# one child: the base
		log "scale: $kind: USS with 1 child"
		dir=$T/$kind-one
		setup "$kind" "$dir" 1 up "$dir/starts"
		start "$kind" "$dir"
		pid=$SUP
		rc=0
		"$SVB" waitlines "$dir/starts" 1 30 "$pid" || rc=$?
		sleep 2
		if ((rc == 0)); then
			uss_of "$kind" "$pid"
			R[$kind.uss1]=$USS
		fi
		finish "$kind" "$dir" "$pid"
		rm -rf "$dir"
	done
	# N children, SCALE_RUNS times, the supervisors in turn
	for ((r = 1; r <= SCALE_RUNS; r++)); do
		for kind in "${KINDS[@]}"; do
			log "scale: run $r of $SCALE_RUNS: $kind, $NCHILD children"
			scale_run "$kind"
		done
	done
	for kind in "${KINDS[@]}"; do
		local m
		for m in start stop uss; do
			median "$T/data/scale.$kind.$m"
			R[$kind.$m]=$MEDIAN R[$kind.$m.range]=$RANGE
			R[$kind.$m.n]=$(wc -l <"$T/data/scale.$kind.$m" 2>/dev/null || echo 0)
		done
		R[$kind.ussN]=${R[$kind.uss]}
	done
}

# ---- 5. grandchild after a crash and after a stop --------------------------------

# gone_within PID SECONDS: whether PID is gone (or a zombie) within SECONDS.
gone_within() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		"$SVB" alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

bench_grandchild() {
	local kind dir pid c1 g1 g2 rc out
	for kind in "${KINDS[@]}"; do
		dir=$T/$kind-grand
		log "grandchild: $kind"
		setup "$kind" "$dir" 1 grand "$dir/starts"
		start "$kind" "$dir"
		pid=$SUP
		R[$kind.gcrash]=failed R[$kind.gstop]=failed
		rc=0
		"$SVB" waitlines "$dir/starts" 1 30 "$pid" || rc=$?
		if ((rc)); then
			log "grandchild: $kind: the child did not start"
			finish "$kind" "$dir" "$pid"
			continue
		fi
		read -r _ c1 g1 <"$dir/starts"
		kill -KILL "$c1" || true
		rc=0
		"$SVB" waitlines "$dir/starts" 2 30 "$pid" || rc=$?
		if gone_within "$g1" 2; then R[$kind.gcrash]=killed; else R[$kind.gcrash]=leaked; fi
		if ((rc)); then
			log "grandchild: $kind: the child was not restarted"
		else
			sed -n 2p "$dir/starts" >"$dir/second"
			read -r _ _ g2 <"$dir/second"
			case $kind in
			spawnd) STOP=(kill -TERM "$pid") ;;
			runit) STOP=(sv down "$dir/service/c0001") ;;
			s6) STOP=(s6-svc -d "$dir/scan/c0001") ;;
			supervisord) STOP=(supervisorctl -c "$dir/supervisord.conf" stop 'c:*') ;;
			esac
			out=$("$SVB" stopwait "$dir/second" 30 -- "${STOP[@]}" 2>/dev/null)
			if [[ $out == timeout* ]]; then
				log "grandchild: $kind: the child did not stop"
			elif gone_within "$g2" 2; then
				R[$kind.gstop]=killed
			else
				R[$kind.gstop]=survives
			fi
		fi
		log "grandchild: $kind: after crash ${R[$kind.gcrash]}, after stop ${R[$kind.gstop]}"
		# the survivors, seen alive just now
		[[ ${R[$kind.gcrash]} == leaked ]] && kill -KILL "$g1" 2>/dev/null
		[[ ${R[$kind.gstop]} == survives ]] && kill -KILL "$g2" 2>/dev/null
		finish "$kind" "$dir" "$pid"
	done
}

# ---- the run ----------------------------------------------------------------------

log "temporary directory $T; $NCHILD children for scale, $IDLE_S s idle"
bench_restart
bench_idle
bench_scale
bench_grandchild

# ---- the report -------------------------------------------------------------------

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not from a package"; }
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kib() { awk -v x="$1" 'BEGIN { if (x >= 10240) printf "%.1f MiB", x / 1024; else printf "%.0f KiB", x }'; }
num() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
fmt_s() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
# yesno A OP B: "yes" if the numbers compare so, else "no"
yesno() { if awk -v a="$1" -v b="$3" "BEGIN { exit !(a + 0 $2 b + 0) }"; then echo yes; else echo no; fi; }

declare -A ROW=()
for kind in "${KINDS[@]}" bare; do
	ROW[$kind.restart]="$(fmt_ms "${R[$kind.p50]}") / $(fmt_ms "${R[$kind.p99]}") ms"
done
for kind in "${KINDS[@]}"; do
	ROW[$kind.idle]=${R[$kind.idle]}
	[[ $kind == spawnd ]] && ROW[$kind.idle]="${R[spawnd.idle]} (stderr a pipe) / ${R[spawnd_file.idle]} (a file)"
	u1=${R[$kind.uss1]} un=${R[$kind.ussN]}
	if num "$u1" && num "$un"; then
		slope=$(awk -v a="$u1" -v b="$un" -v n="$NCHILD" 'BEGIN { printf "%.1f", (b - a) / (n - 1) }')
		base=$(awk -v a="$u1" -v s="$slope" 'BEGIN { printf "%.0f", a - s }')
		R[$kind.slope]=$slope
		ROW[$kind.uss]="$(awk -v s="$slope" 'BEGIN { printf (s < 10 ? "%.1f" : "%.0f"), s }') KiB + $(kib "$base")"
		ROW[$kind.usstotal]="$(kib "$un") (${R[$kind.ussN_procs]} proc.)"
	else
		ROW[$kind.uss]=failed ROW[$kind.usstotal]=failed
	fi
	for m in start stop; do
		if num "${R[$kind.$m]}"; then
			ROW[$kind.$m]="$(fmt_s "${R[$kind.$m]}") s"
			if ((${R[$kind.$m.n]:-0} > 1)); then
				range=${R[$kind.$m.range]}
				ROW[$kind.$m]+=" ($(fmt_s "${range%-*}")-$(fmt_s "${range#*-}"))"
			fi
		else
			ROW[$kind.$m]=failed
		fi
	done
	c=${R[$kind.gcrash]} s=${R[$kind.gstop]}
	ROW[$kind.grand]="$c / $s"
done

cmd="bench/supervise/run.sh"
((QUICK)) && cmd+=" -q"
envs="SPAWND=${SPAWND_SRC#"$ROOT"/}"
[[ -n ${BENCH_IDLE_SECONDS:-} ]] && envs+=" BENCH_IDLE_SECONDS=$BENCH_IDLE_SECONDS"

cat <<EOF
## Supervisors: spawnd vs runit, s6, supervisord

Machine: Linux $(uname -r), $cpu, $(nproc) CPUs; RLIMIT_NOFILE $(ulimit -Sn)/$(ulimit -Hn).
runit $(ver runit), s6 $(ver s6), supervisor $(ver supervisor); spawnd from
\`${SPAWND_SRC#"$ROOT"/}\` (built $(date -u -r "$SPAWND_SRC" '+%Y-%m-%d %H:%M UTC'); repository at commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ", with local changes")).

Command: \`$envs $cmd\`$( ((QUICK)) && echo " (a quick run: indicative only)")

| | spawnd | runit | s6 | supervisord | bare fork/exec/wait loop |
|---|---|---|---|---|---|
| restart after an immediate exit, p50 / p99 | ${ROW[spawnd.restart]} | ${ROW[runit.restart]} | ${ROW[s6.restart]} | ${ROW[supervisord.restart]} | ${ROW[bare.restart]} |
| idle, $IDLE_CHILDREN children, $IDLE_S s: wake-ups | ${ROW[spawnd.idle]} | ${ROW[runit.idle]} | ${ROW[s6.idle]} | ${ROW[supervisord.idle]} | |
| memory per child (USS slope + base) | ${ROW[spawnd.uss]} | ${ROW[runit.uss]} | ${ROW[s6.uss]} | ${ROW[supervisord.uss]} | |
| USS in all at $NCHILD children | ${ROW[spawnd.usstotal]} | ${ROW[runit.usstotal]} | ${ROW[s6.usstotal]} | ${ROW[supervisord.usstotal]} | |
| start $NCHILD children | ${ROW[spawnd.start]} | ${ROW[runit.start]} | ${ROW[s6.start]} | ${ROW[supervisord.start]} | |
| stop $NCHILD children | ${ROW[spawnd.stop]} | ${ROW[runit.stop]} | ${ROW[s6.stop]} | ${ROW[supervisord.stop]} | |
| grandchild after crash / stop | ${ROW[spawnd.grand]} | ${ROW[runit.grand]} | ${ROW[s6.grand]} | ${ROW[supervisord.grand]} | |

EOF

# spawnd's targets
sp50=${R[spawnd.p50]} sp99=${R[spawnd.p99]} bp50=${R[bare.p50]} bp99=${R[bare.p99]}
if num "$sp50" && num "$bp50"; then
	r50=$(awk -v a="$sp50" -v b="$bp50" 'BEGIN { printf "%.2f", a / b }')
	r99=$(awk -v a="$sp99" -v b="$bp99" 'BEGIN { printf "%.2f", a / b }')
	ok50=$(yesno "$r50" "<=" 2) ok99=$(yesno "$r99" "<=" 3)
else
	r50=failed r99=failed ok50=no ok99=no
fi
budget=$((4096 + 16 * NCHILD))
okmem=no okone=no
num "${R[spawnd.ussN]}" && okmem=$(yesno "${R[spawnd.ussN]}" "<" "$budget")
[[ ${R[spawnd.ussN_procs]} == 1 ]] && okone=yes
okidle=no
[[ ${R[spawnd.idle]} == 0 && ${R[spawnd_file.idle]} == 0 ]] && okidle=yes
okstart=no okstop=no
num "${R[spawnd.start]}" && okstart=$(yesno "${R[spawnd.start]}" "<" 0.5)
num "${R[spawnd.stop]}" && okstop=$(yesno "${R[spawnd.stop]}" "<" 1)
okgrand=no
[[ ${R[spawnd.gcrash]} == killed && ${R[spawnd.gstop]} == killed ]] && okgrand=yes

cat <<EOF
spawnd's targets:

- restart p50 within 2x of the bare loop's: $(fmt_ms "$sp50") / $(fmt_ms "$bp50") ms = ${r50}x: **$ok50**
- restart p99 within 3x of the bare loop's p99: $(fmt_ms "$sp99") / $(fmt_ms "$bp99") ms = ${r99}x: **$ok99**
- zero wake-ups idle: ${R[spawnd.idle]} in $IDLE_S s with stderr a pipe, ${R[spawnd_file.idle]} with stderr a file (of which in main threads: ${R[spawnd.idle_main]} and ${R[spawnd_file.idle_main]}; threads with stderr a pipe: ${R[spawnd.idle_threads]}; with stderr a file: ${R[spawnd_file.idle_threads]}): **$okidle**
- under 4 MiB + 16 KiB per child USS at $NCHILD children ($(kib "$budget")): $(kib "${R[spawnd.ussN]}"): **$okmem**
- one process: ${R[spawnd.ussN_procs]} (${R[spawnd.procnames]}): **$okone**
- $NCHILD children started in under 0.5 s: ${ROW[spawnd.start]}: **$okstart**
- $NCHILD children stopped in under 1 s: ${ROW[spawnd.stop]}: **$okstop**
- no grandchild leaked: after crash ${R[spawnd.gcrash]}, after stop ${R[spawnd.gstop]}: **$okgrand**

How: restart latency is the time between consecutive starts of a child
that appends CLOCK_REALTIME to a file and exits 1 at once:
${R[spawnd.restart_n]} restarts for spawnd and for the bare loop, alternating in $ROUNDS
rounds; ${R[runit.restart_n]} for each of runit, s6 and supervisord, which wait about 1 s
before a restart. spawnd runs with intensity 1000000 per second and no
backoff, supervisord with startsecs=0 (else it gives up on a child that
exits at once). Idle wake-ups are the voluntary and involuntary context
switches of all the threads of the supervisor's own processes (spawnd and
its spawnd-guard; runsvdir and each runsv; s6-svscan and each s6-supervise;
supervisord) over $IDLE_S s after 3 s of settling, all measured at the same
time; spawnd twice: with its stderr a pipe, as every supervisor here has
(read by cat into a file, as systemd's journal would read it), and with its
stderr a regular file. USS is Private_Clean + Private_Dirty from
smaps_rollup, summed over the same processes, with 1 child and with
$NCHILD: the slope per child, and the base (the USS with 1 child minus the
slope). Start runs from launching the supervisor until all $NCHILD children
have recorded their start (the median of $SCALE_RUNS runs, the supervisors in
turn, with the range in brackets; the USS at $NCHILD is the median too); stop,
from the stop request (SIGTERM to spawnd
and to supervisord; \`sv down\` on every runit service; \`s6-svscanctl -t\`)
until all of them have exited (pidfds). The grandchild is double-forked
into a session of its own by the child, which is then killed with SIGKILL;
after the restart, the service is stopped (SIGTERM to spawnd; \`sv down\`,
\`s6-svc -d\`, \`supervisorctl stop\`). Each supervisor runs with its
defaults otherwise (spawnd's children log to it and run under the default
sandbox; supervisord's log to its AUTO log files).
EOF
log "done"
