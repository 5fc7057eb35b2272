#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh: run the libgp benchmarks side by side with the same workloads
# written for BEAM (bench/peers/erlang) and Go (bench/peers/go), with 1 and 2
# schedulers, and write a markdown report. Artifacts must already be built
# (the Makefile does it); their paths come from the environment:
#
#   GPBENCH       libgp implementation       (build/bench/gpbench)
#   GOBENCH       Go implementation          (build/bench/go-gpbench)
#   ERLBENCH_DIR  directory of gpbench.beam  (build/bench/erlang)
#   PAGEFAULT     page-fault floor probe     (build/bench/pagefault)
#
# Every run is one OS process printing "WORKLOAD METRIC VALUE" lines. Each
# implementation is run RUNS times per workload and scheduler count, the
# implementations interleaved run by run so that machine noise hits all
# alike; the report shows medians. A run that fails or times out is shown
# as failed, never dropped.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [-r RUNS] [-o OUTFILE] [-w WORKLOADS]

Run the libgp, BEAM and Go benchmark implementations side by side with 1
and 2 schedulers and write a markdown report.

  -r RUNS       runs per implementation, workload and scheduler count
                (default: $BENCH_RUNS, else 5); the report shows medians
  -o OUTFILE    report to write (default: bench/RESULTS.md)
  -w WORKLOADS  comma- or space-separated list (default: all of
                pingpong ring churn skynet spawn_idle spawn_hibernate yield);
                NAME:ARG[:ARG...] passes arguments, e.g. skynet:10000
  -h            this help

Environment: GPBENCH (build/bench/gpbench), GOBENCH (build/bench/go-gpbench),
ERLBENCH_DIR (build/bench/erlang), PAGEFAULT (build/bench/pagefault),
BENCH_TIMEOUT (300 seconds per run). Relative paths are taken from the
repository root.
EOF
}

ALL_WORKLOADS="pingpong ring churn skynet spawn_idle spawn_hibernate yield"
IMPLS="libgp beam go"
SCHEDS="1 2"

# The metrics each workload must report, in report order.
metrics_of() {
	case $1 in
	pingpong) echo ns_per_rt ;;
	ring) echo ns_per_hop ;;
	churn) echo procs_per_sec ;;
	skynet) echo ms ;;
	spawn_idle | spawn_hibernate) echo spawn_ms bytes_per_proc release_ms ;;
	yield) echo ns_per_switch ;;
	esac
}

die() {
	echo "run.sh: $*" >&2
	exit 2
}

# The command line for the report, with the settings taken from the environment.
CMDLINE=
for v in BENCH_RUNS BENCH_TIMEOUT GPBENCH GOBENCH ERLBENCH_DIR PAGEFAULT; do
	[ -z "${!v+x}" ] || CMDLINE+="$v=$(printf '%q' "${!v}") "
done
CMDLINE+="bench/run.sh"
for a in "$@"; do
	if [[ $a =~ ^[A-Za-z0-9_./:,=+-]+$ ]]; then
		CMDLINE+=" $a"
	else
		CMDLINE+=" $(printf '%q' "$a")"
	fi
done
RUNS=${BENCH_RUNS:-5}
OUTFILE=bench/RESULTS.md
WORKLOADS=$ALL_WORKLOADS
while getopts ':r:o:w:h' opt; do
	case $opt in
	r) RUNS=$OPTARG ;;
	o) OUTFILE=$OPTARG ;;
	w) WORKLOADS=${OPTARG//,/ } ;;
	h) usage; exit 0 ;;
	:) usage >&2; die "option -$OPTARG needs an argument" ;;
	*) usage >&2; die "unknown option -$OPTARG" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; die "unexpected argument: $1"; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer: $RUNS"
TIMEOUT=${BENCH_TIMEOUT:-300}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer"
for item in $WORKLOADS; do
	[ -n "$(metrics_of "${item%%:*}")" ] || die "unknown workload: ${item%%:*}"
done
[ -n "${WORKLOADS// /}" ] || die "no workloads"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GPBENCH=${GPBENCH:-build/bench/gpbench}
GOBENCH=${GOBENCH:-build/bench/go-gpbench}
ERLBENCH_DIR=${ERLBENCH_DIR:-build/bench/erlang}
PAGEFAULT=${PAGEFAULT:-build/bench/pagefault}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
DATA=$TMP/data.tsv	# label impl sched metric run status value-or-reason
FAILS=$TMP/failures.md	# one markdown bullet per failed run
PF=$TMP/pagefault.tsv	# metric run status value-or-reason
: >"$DATA"
: >"$FAILS"
: >"$PF"

# Why an implementation cannot run at all, or nothing.
missing() {
	case $1 in
	libgp) [ -x "$GPBENCH" ] || echo "$GPBENCH not built" ;;
	go) [ -x "$GOBENCH" ] || echo "$GOBENCH not built" ;;
	beam)
		if ! command -v erl >/dev/null; then
			echo "erl not installed"
		elif [ ! -f "$ERLBENCH_DIR/gpbench.beam" ]; then
			echo "$ERLBENCH_DIR/gpbench.beam not built"
		fi ;;
	esac
}

# run_one IMPL SCHEDULERS LABEL RUN NAME [ARGS...]: one run, appended to DATA.
run_one() {
	local impl=$1 s=$2 label=$3 run=$4 name=$5 rc=0 reason=
	shift 5
	local -a cmd
	case $impl in
	libgp) cmd=(env "GP_SCHEDULERS=$s" "$GPBENCH" "$name" "$@") ;;
	beam) cmd=(erl -noshell +S "$s:$s" +P 2000000 -pa "$ERLBENCH_DIR"
		   -run gpbench main "$name" "$@") ;;
	go) cmd=(env "GOMAXPROCS=$s" "$GOBENCH" "$name" "$@") ;;
	esac
	: >"$TMP/out"
	: >"$TMP/err"
	reason=$(missing "$impl")
	if [ -n "$reason" ]; then
		rc=127
	else
		timeout -k 10 "$TIMEOUT" "${cmd[@]}" >"$TMP/out" 2>"$TMP/err" || rc=$?
		case $rc in
		0) ;;
		124 | 137) reason="timed out after $TIMEOUT s" ;;
		*) reason="exit status $rc" ;;
		esac
	fi
	awk -v name="$name" -v label="$label" -v impl="$impl" -v s="$s" \
	    -v run="$run" -v rc="$rc" -v reason="$reason" \
	    -v expect="$(metrics_of "$name")" '
		BEGIN {
			OFS = "\t"
			n = split(expect, m, " ")
			for (i = 1; i <= n; i++)
				want[m[i]] = 1
		}
		$1 == name && NF == 3 {
			if ($2 == "unsupported") {
				unsup = 1
				next
			}
			if (!($2 in want)) {
				m[++n] = $2
				want[$2] = 1
			}
			got[$2] = $3
		}
		END {
			for (i = 1; i <= n; i++) {
				k = m[i]
				if (rc != 0)
					print label, impl, s, k, run, "failed", reason
				else if (unsup)
					print label, impl, s, k, run, "unsupported", "unsupported"
				else if (!(k in got))
					print label, impl, s, k, run, "failed", "no " k " in output"
				else if (got[k] !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/)
					print label, impl, s, k, run, "failed", "bad value " got[k]
				else
					print label, impl, s, k, run, "ok", got[k]
			}
		}' "$TMP/out" >"$TMP/rows"
	cat "$TMP/rows" >>"$DATA"
	if awk -F '\t' '$6 == "failed" { f = 1 } END { exit !f }' "$TMP/rows"; then
		local why last
		why=$(awk -F '\t' '$6 == "failed" { print $7; exit }' "$TMP/rows")
		last=$(grep -v '^[[:space:]]*$' "$TMP/err" | tail -n 1 | cut -c 1-200 | tr '`|' "'/" || true)
		printf -- '- %s, %s, %s sched, run %s: %s%s\n' "$label" "$impl" "$s" \
			"$run" "$why" "${last:+ (stderr: \`$last\`)}" >>"$FAILS"
		echo "run.sh:   $impl: FAILED: $why${last:+: $last}" >&2
	else
		echo "run.sh:   $impl: $(awk -F '\t' '{ printf "%s%s=%s", sep, $4, $7; sep = " " }' "$TMP/rows")" >&2
	fi
}

echo "run.sh: $RUNS run(s) per cell, workloads: $WORKLOADS" >&2

# The page-fault floor first: memory the workloads have not yet touched.
for run in $(seq "$RUNS"); do
	rc=0
	if [ ! -x "$PAGEFAULT" ]; then
		for m in ns_per_page populate_ns_per_page; do
			printf '%s\t%s\tfailed\t%s not built\n' "$m" "$run" "$PAGEFAULT" >>"$PF"
		done
		continue
	fi
	timeout -k 10 "$TIMEOUT" "$PAGEFAULT" >"$TMP/out" 2>"$TMP/err" || rc=$?
	awk -v run="$run" -v rc="$rc" '
		BEGIN { OFS = "\t" }
		$1 == "pagefault" && NF == 3 {
			if (rc != 0)
				print $2, run, "failed", "exit status " rc
			else if ($3 ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/)
				print $2, run, "ok", $3
			else
				print $2, run, "unsupported", $3
			seen = 1
		}
		END {
			if (!seen)
				print "ns_per_page", run, "failed", "exit status " rc ", no output"
		}' "$TMP/out" >>"$PF"
	echo "run.sh: pagefault run $run/$RUNS: $(tr '\n' ' ' <"$TMP/out")" >&2
done

for item in $WORKLOADS; do
	IFS=: read -r -a parts <<<"$item"
	name=${parts[0]}
	args=("${parts[@]:1}")
	label=$name
	[ ${#args[@]} -eq 0 ] || label="$name $(IFS=' '; echo "${args[*]}")"
	for s in $SCHEDS; do
		for run in $(seq "$RUNS"); do
			echo "run.sh: [$label, $s sched, run $run/$RUNS]" >&2
			for impl in $IMPLS; do
				run_one "$impl" "$s" "$label" "$run" "$name" ${args[@]+"${args[@]}"}
			done
		done
	done
done

# --- the report ---------------------------------------------------------

# shellcheck source=bench/machine.sh
. bench/machine.sh
machine_facts "$GOBENCH" gcc

mkdir -p "$(dirname "$OUTFILE")"
{
	cat <<EOF
# libgp benchmarks: libgp vs BEAM vs Go

Generated by \`$CMDLINE\` on $(date '+%Y-%m-%d %H:%M:%S %Z').

| | |
|---|---|
| Kernel | $(uname -r) |
| CPU | $cpu_model, $cpu_count CPUs |
| Memory | $mem |
| Erlang | $otp |
| Go | $gover |
| C compiler | $gccver |
| Runs | $RUNS per cell, implementations interleaved run by run; medians shown |
| Timeout | $TIMEOUT s per run |
| libgp | \`GP_SCHEDULERS=S $GPBENCH WORKLOAD\` |
| BEAM | \`erl -noshell +S S:S +P 2000000 -pa $ERLBENCH_DIR -run gpbench main WORKLOAD\` |
| Go | \`GOMAXPROCS=S $GOBENCH WORKLOAD\` |

## Page-fault floor

First touch of anonymous memory on this machine (\`$PAGEFAULT\`, median of
$RUNS runs): the cost any runtime pays per fresh 4 KiB page of stack or heap.

| metric | median | runs |
|---|---:|---|
EOF
	awk -F '\t' -v runs="$RUNS" '
		function num(v) {
			return v >= 1000 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v)
		}
		{
			if (!($1 in seen)) {
				seen[$1] = 1
				order[++n] = $1
			}
			all[$1] = all[$1] (all[$1] == "" ? "" : ", ") ($3 == "ok" ? num($4) : $3 " (" $4 ")")
			if ($3 == "ok")
				v[$1, ++k[$1]] = $4
			else
				why[$1] = why[$1] == "" ? $4 : why[$1]
		}
		END {
			for (i = 1; i <= n; i++) {
				m = order[i]
				c = k[m] + 0
				for (a = 2; a <= c; a++)
					for (b = a; b > 1 && v[m, b - 1] + 0 > v[m, b] + 0; b--) {
						t = v[m, b]; v[m, b] = v[m, b - 1]; v[m, b - 1] = t
					}
				if (c == 0)
					med = "n/a (" why[m] ")"
				else
					med = num(c % 2 ? v[m, (c + 1) / 2] : (v[m, c / 2] + v[m, c / 2 + 1]) / 2)
				print "| " m " | " med " | " all[m] " |"
			}
			if (n == 0)
				print "| ns_per_page | n/a (no output) | |"
		}' "$PF"

	awk -F '\t' -v runs="$RUNS" '
		function num(v) {
			return v >= 1000 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v)
		}
		function kind(m) {
			if (m ~ /^ns_per_/) return 1
			if (m == "ms" || m ~ /_ms$/) return 2
			if (m ~ /^bytes_per_/) return 3
			if (m ~ /_per_sec$/) return 4
			return 5
		}
		# median of the ok values of cell c, "" if none
		function median(c,    n, a, b, t, x) {
			n = nok[c] + 0
			if (n == 0)
				return ""
			for (a = 1; a <= n; a++)
				x[a] = val[c, a]
			for (a = 2; a <= n; a++)
				for (b = a; b > 1 && x[b - 1] + 0 > x[b] + 0; b--) {
					t = x[b]; x[b] = x[b - 1]; x[b - 1] = t
				}
			return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
		}
		function cell(c,    md) {
			if (nun[c] + 0 > 0 && nok[c] + 0 == 0 && nfail[c] + 0 == 0)
				return "n/a (unsupported)"
			if (nok[c] + 0 == 0 && nfail[c] + 0 == 0)
				return "n/a (not run)"
			md = median(c)
			if (md == "")
				return "failed (" nfail[c] "/" total[c] " runs: " why[c] ")"
			if (nfail[c] + 0 > 0)
				return num(md) " (" nfail[c] "/" total[c] " runs failed: " why[c] ")"
			return num(md)
		}
		# why cell c has no median
		function none(c) {
			return nok[c] + 0 > 0 ? "" : nfail[c] + 0 > 0 ? "failed" : nun[c] + 0 > 0 ? "unsupported" : "not run"
		}
		# One target row: libgp row r vs peer row r2 (same scheduler count),
		# ratio compared with bound ("le": at most, "ge": at least).
		function tgtrow(name, r, r2, peer, op, bound,    s, a, b, q, out, ok, all, na) {
			out = ""
			all = 1
			na = 0
			for (s = 1; s <= 2; s++) {
				a = median(r SUBSEP "libgp" SUBSEP s)
				b = median(r2 SUBSEP peer SUBSEP s)
				if (a == "" || b == "" || b + 0 == 0) {
					out = out (s > 1 ? " / " : "") "n/a"
					na = 1
					continue
				}
				q = a / b
				ok = op == "le" ? q <= bound : q >= bound
				all = all && ok
				out = out (s > 1 ? " / " : "") sprintf("%.2f", q)
			}
			print "| " name " (ratio " (op == "le" ? "<= " : ">= ") sprintf("%.2f", bound) ") | " out " | " (na ? "not measured" : all ? "yes" : "no") " |"
		}
		function tgt(name, r, peer, op, bound) {
			tgtrow(name, r, r, peer, op, bound)
		}
		function tgt2(name, r, r2, peer, bound) {
			tgtrow(name, r, r2, peer, "le", bound)
		}
		function tgtabs(name, r, bound,    s, a, out, all, na) {
			out = ""
			all = 1
			na = 0
			for (s = 1; s <= 2; s++) {
				a = median(r SUBSEP "libgp" SUBSEP s)
				out = out (s > 1 ? " / " : "") (a == "" ? "n/a" : num(a))
				if (a == "")
					na = 1
				all = all && a + 0 <= bound
			}
			print "| " name " | " out " bytes | " (na ? "not measured" : all ? "yes" : "no") " |"
		}
		function ratio(c1, c2, peer,    a, b, r) {
			a = median(c1)
			b = median(c2)
			if (a == "")
				return "n/a (libgp " none(c1) ")"
			if (b == "")
				return "n/a (" peer " " none(c2) ")"
			if (b + 0 == 0)
				return "n/a (" peer " value is 0)"
			r = a / b
			return sprintf(r >= 10 ? "%.1f" : r >= 0.1 ? "%.2f" : "%.3f", r)
		}
		{
			row = $1 "/" $4
			if (!(row in seenrow)) {
				seenrow[row] = 1
				rows[++nrows] = row
			}
			c = row SUBSEP $2 SUBSEP $3
			total[c]++
			if ($6 == "ok")
				val[c, ++nok[c]] = $7
			else if ($6 == "unsupported")
				nun[c]++
			else {
				nfail[c]++
				if (why[c] == "")
					why[c] = $7
			}
			allruns[c] = allruns[c] (allruns[c] == "" ? "" : ", ") ($6 == "ok" ? num($7) : $6 == "unsupported" ? "unsupported" : "failed: " $7)
		}
		END {
			title[1] = "Time per operation (ns)"
			title[2] = "Wall time (ms)"
			title[3] = "Memory (bytes per process, RSS growth / processes)"
			title[4] = "Throughput (processes per second)"
			title[5] = "Other metrics"
			better[1] = "Lower is better; a libgp/peer ratio below 1 means libgp is faster."
			better[2] = "Lower is better; a libgp/peer ratio below 1 means libgp is faster."
			better[3] = "Lower is better; a libgp/peer ratio below 1 means libgp uses less memory."
			better[4] = "Higher is better; a libgp/peer ratio above 1 means libgp is faster."
			better[5] = "See the workload for which direction is better."
			for (k = 1; k <= 5; k++) {
				shown = 0
				for (i = 1; i <= nrows; i++) {
					r = rows[i]
					split(r, p, "/")
					if (kind(p[2]) != k)
						continue
					if (!shown) {
						print ""
						print "## " title[k]
						print ""
						print "| workload/metric | libgp 1 | libgp 2 | BEAM 1 | BEAM 2 | Go 1 | Go 2 | libgp/BEAM 1 | libgp/BEAM 2 | libgp/Go 1 | libgp/Go 2 |"
						print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
						shown = 1
					}
					line = "| " r
					for (s = 1; s <= 2; s++)
						line = line " | " cell(r SUBSEP "libgp" SUBSEP s)
					for (s = 1; s <= 2; s++)
						line = line " | " cell(r SUBSEP "beam" SUBSEP s)
					for (s = 1; s <= 2; s++)
						line = line " | " cell(r SUBSEP "go" SUBSEP s)
					for (s = 1; s <= 2; s++)
						line = line " | " ratio(r SUBSEP "libgp" SUBSEP s, r SUBSEP "beam" SUBSEP s, "BEAM")
					for (s = 1; s <= 2; s++)
						line = line " | " ratio(r SUBSEP "libgp" SUBSEP s, r SUBSEP "go" SUBSEP s, "Go")
					print line " |"
				}
				if (shown) {
					print ""
					print "Columns are medians with 1 and 2 schedulers; ratios are libgp median / peer median at the same scheduler count. " better[k]
				}
			}
			# The targets of the libgp issue, checked against this run.
			print ""
			print "## Targets"
			print ""
			print "| target | measured (1 / 2 schedulers) | met |"
			print "|---|---|---|"
			for (s = 1; s <= 2; s++) {
				pp[s] = median("pingpong/ns_per_rt" SUBSEP "libgp" SUBSEP s)
				ppgo[s] = median("pingpong/ns_per_rt" SUBSEP "go" SUBSEP s)
			}
			tgt("pingpong: at most 1/4 of the Go time", "pingpong/ns_per_rt", "go", "le", 0.25)
			tgt("ring: at most 1/4 of the BEAM time", "ring/ns_per_hop", "beam", "le", 0.25)
			tgt("churn: at least 3x the Go rate", "churn/procs_per_sec", "go", "ge", 3)
			tgt("skynet: at most 1/3 of the Go time", "skynet/ms", "go", "le", 1 / 3)
			tgt("1 M parked: spawned 1.5x faster than BEAM, cold", "spawn_idle/spawn_ms", "beam", "le", 1 / 1.5)
			tgt2("1 M parked: 4x faster than BEAM on a warm pool", "spawn_idle/warm_spawn_ms", "spawn_idle/spawn_ms", "beam", 0.25)
			tgtabs("1 M parked: at most 4.5 KiB each", "spawn_idle/bytes_per_proc", 4608)
			tgt2("1 M hibernated: spawned 5x faster than BEAM parked", "spawn_hibernate/spawn_ms", "spawn_idle/spawn_ms", "beam", 0.2)
			tgtabs("1 M hibernated: at most 512 bytes each", "spawn_hibernate/bytes_per_proc", 512)
			if (pp[1] != "" && pp[2] != "")
				print "| pingpong: 2 schedulers never slower than 1 | " num(pp[1]) " / " num(pp[2]) " ns | " (pp[2] + 0 <= pp[1] + 0 ? "yes" : "no") " |"
			print ""
			print "Ratios are of medians from this run (libgp / peer). What bounds the rows marked no: bench/README.md."
			print ""
			print "## All runs"
			print ""
			print "Every run, in run order (" runs " per cell)."
			print ""
			print "| workload/metric | implementation | schedulers | runs |"
			print "|---|---|--:|---|"
			impl[1] = "libgp"; impl[2] = "beam"; impl[3] = "go"
			iname["libgp"] = "libgp"; iname["beam"] = "BEAM"; iname["go"] = "Go"
			for (i = 1; i <= nrows; i++)
				for (j = 1; j <= 3; j++)
					for (s = 1; s <= 2; s++) {
						c = rows[i] SUBSEP impl[j] SUBSEP s
						print "| " rows[i] " | " iname[impl[j]] " | " s " | " (c in allruns ? allruns[c] : "not run") " |"
					}
		}' "$DATA"

	echo
	echo "## Failed runs"
	echo
	if [ -s "$FAILS" ]; then
		cat "$FAILS"
	else
		echo "None."
	fi
} >"$TMP/report.md"
mv "$TMP/report.md" "$OUTFILE"
echo "run.sh: wrote $OUTFILE" >&2
