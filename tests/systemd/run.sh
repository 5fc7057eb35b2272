#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# spawnd under a real systemd: boots Debian bookworm (systemd 252) in
# systemd-nspawn with pure cgroup2 inside (the layout of current
# distributions), installs spawnd into it with `make install`, and checks
# that spawnd.service and spawnd.socket do what the units promise:
#
#   - `systemctl start` returns only once the whole tree is ready (READY=1
#     after the slowest ready = notify child), STATUS= says how many run;
#   - Delegate=yes: spawnd in <service>/supervisor, workers below it (and
#     without Delegate=yes, spawnd stays where systemd put it);
#   - the watchdog's pings keep it alive (WatchdogSec=2s for the test);
#   - a flood of output while journald is frozen does not stop spawnd (the
#     lines journald cannot take are dropped, and the journal says so);
#   - `systemctl reload` applies a change without touching the rest, and
#     fails on a bad configuration, leaving the tree as it was;
#   - a child's crash is in `journalctl SPAWND_CHILD=web/api`, with its
#     output, SPAWND_EVENT=crashed and SPAWND_SIGNAL=11;
#   - SIGKILL of spawnd leaves no process of the old tree, and systemd
#     restarts spawnd with its tree;
#   - a spawnd frozen with SIGSTOP misses its pings and is restarted;
#   - `systemctl stop` stops every child in reverse order, cleanly, even
#     though one takes longer than TimeoutStopSec (EXTEND_TIMEOUT_USEC);
#   - spawnd.socket: the first `spawnctl` starts spawnd, which serves the
#     socket systemd passed.
#   - the root supervisor giving up exits 1, and systemd starts the tree again.
#
# Run by `make check` as root. Skips (exit 0, with the reason) where it
# cannot run: not root, no systemd-nspawn/debootstrap, no network for the
# first debootstrap, nspawn unable to boot here. The root file system is
# kept in build/systemd/ (reruns: ~25 s; delete it to start afresh).
#
# usage: tests/systemd/run.sh BUILD_DIR
set -euo pipefail

B=${1:?usage: run.sh BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
WORK=$TOP/build/systemd
DIST=bookworm
ROOTFS=$WORK/rootfs-$DIST
# What the container needs beyond minbase: systemd itself, procps (kill,
# pgrep), and the libraries spawnd links (the same Debian packages).
PKGS=systemd,systemd-sysv,dbus,procps,liburing2,libconfig9,libseccomp2,libjson-c5,libbpf1,libelf1,libdw1,libncursesw6
MACHINE=spawndtest$$
WDSEC=2

skip() { echo "systemd test: SKIP: $*"; exit 0; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
T_ALL=$(now)

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, debootstrap)"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (make deps: systemd-container)"
command -v debootstrap >/dev/null || skip "no debootstrap (make deps)"
mkdir -p "$WORK"

# ---- the root file system (cached) ---------------------------------------------
if [ "$(cat "$ROOTFS/.spawnd-test-rootfs" 2>/dev/null)" != "$DIST $PKGS" ]; then
	T=$(now)
	MIRROR=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		 awk '/^URIs:/ && $2 ~ /debian/ && $2 !~ /security/ {print $2; exit}')
	[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' \
				 /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$MIRROR" ] || skip "no Debian mirror in apt's sources for debootstrap"
	rm -rf "$ROOTFS" "$ROOTFS.new"
	if ! debootstrap --variant=minbase --include="$PKGS" "$DIST" "$ROOTFS.new" "$MIRROR" \
		>"$WORK/debootstrap.log" 2>&1; then
		tail -5 "$WORK/debootstrap.log"
		rm -rf "$ROOTFS.new"
		skip "debootstrap $DIST from $MIRROR failed (log: $WORK/debootstrap.log)"
	fi
	# A quicker, quieter boot: no gettys, no timers.
	for u in console-getty.service getty@.service apt-daily.timer apt-daily-upgrade.timer \
		 dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
		ln -sf /dev/null "$ROOTFS.new/etc/systemd/system/$u"
	done
	rm -rf "$ROOTFS.new"/var/cache/apt/archives/*.deb "$ROOTFS.new"/var/lib/apt/lists/* \
	       "$ROOTFS.new"/usr/share/doc/* "$ROOTFS.new"/usr/share/man/* "$ROOTFS.new"/usr/share/locale/*
	echo "$DIST $PKGS" >"$ROOTFS.new/.spawnd-test-rootfs"
	mv "$ROOTFS.new" "$ROOTFS"
	echo "systemd test: debootstrap $DIST: $(elapsed "$T")s"
fi

# ---- spawnd installed as a user would, and the test's tree ------------------------
make -C "$TOP" --no-print-directory -s install DESTDIR="$ROOTFS" PREFIX=/usr B="$B" >/dev/null
install -m 755 "$HERE/tchild" "$ROOTFS/usr/local/bin/tchild"
# The test's settings, as an administrator would make them: a drop-in.
mkdir -p "$ROOTFS/etc/systemd/system/spawnd.service.d"
cat >"$ROOTFS/etc/systemd/system/spawnd.service.d/test.conf" <<EOF
[Service]
WatchdogSec=$WDSEC
TimeoutAbortSec=1s
RestartSec=500ms
# Shorter than the stop of "slow" (3 s): spawnd's EXTEND_TIMEOUT_USEC must
# carry the ordered stop past it.
TimeoutStopSec=2s
EOF
write_conf() { # write_conf [EXTRA_CHILD]
	cat >"$ROOTFS/etc/spawnd/spawnd.conf" <<EOF
name = "main";
intensity = 10;
period = 60;
children = (
  { name = "a"; exec = [ "/usr/local/bin/tchild", "a", "0", "1.5" ]; ready = "notify"; },
  { name = "web"; intensity = 10; period = 60;
    children = ( { name = "api"; exec = [ "/usr/local/bin/tchild", "api" ]; } ); },
  { name = "b"; exec = [ "/usr/local/bin/tchild", "b" ]; },
  { name = "slow"; exec = [ "/usr/local/bin/tchild", "slow", "3" ]; shutdown = "10s"; }${1:-}
);
EOF
}
write_conf
rm -f "$ROOTFS/etc/systemd/system/multi-user.target.wants/spawnd.service" \
      "$ROOTFS/etc/systemd/system/sockets.target.wants/spawnd.socket"

# ---- boot -----------------------------------------------------------------------
# nspawn --keep-unit stays in our cgroup and makes payload/ and supervisor/
# under it: give it a cgroup of its own (v2, and name=systemd v1 on a hybrid
# host) so that cleanup is one rmdir.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then U=/sys/fs/cgroup; else U=/sys/fs/cgroup/unified; fi
CG2=$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup)
CGN=$(awk -F: '$2=="name=systemd"{print $3}' /proc/self/cgroup)
CLEAN_DIRS=("$U${CG2%/}/$MACHINE")
[ -n "$CGN" ] && [ -d /sys/fs/cgroup/systemd ] && CLEAN_DIRS+=("/sys/fs/cgroup/systemd${CGN%/}/$MACHINE")
[ -e /run/systemd/nspawn ] && RUN_NSPAWN_EXISTED=1 || RUN_NSPAWN_EXISTED=0
NSPAWN_PID=
teardown() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" # a clean halt of the container
		for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$NSPAWN_PID" 2>/dev/null && kill -KILL "$NSPAWN_PID"
		wait "$NSPAWN_PID" 2>/dev/null || true
	fi
	local d
	for d in "${CLEAN_DIRS[@]}"; do
		[ -d "$d" ] && { find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
	done
	[ "$RUN_NSPAWN_EXISTED" = 1 ] || rm -rf /run/systemd/nspawn
}
trap teardown EXIT

T_BOOT=$(now)
SDN_CGDIRS="${CLEAN_DIRS[*]}" setsid bash -c \
	'for d in $SDN_CGDIRS; do mkdir -p "$d" && echo $$ >"$d/cgroup.procs"; done; exec "$@"' _ \
	env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -b -D "$ROOTFS" -M "$MACHINE" \
	--register=no --keep-unit --console=read-only >"$WORK/boot.log" 2>&1 </dev/null &
NSPAWN_PID=$!
LEADER=
for _ in $(seq 1 200); do
	LEADER=$(pgrep -P "$NSPAWN_PID" 2>/dev/null | head -1 || true)
	[ -n "$LEADER" ] && [ "$(cat /proc/"$LEADER"/comm 2>/dev/null)" = systemd ] && break
	kill -0 "$NSPAWN_PID" 2>/dev/null || { tail -5 "$WORK/boot.log"; skip "systemd-nspawn cannot boot a container here"; }
	sleep 0.05
done
[ -n "$LEADER" ] && [ "$LEADER" -gt 1 ] || skip "systemd-nspawn started no systemd (see $WORK/boot.log)"
# In the container, in a session of its own: a stray `kill 0` there can
# never reach this script.
C() { setsid -w nsenter -t "$LEADER" -a "$@"; }
export LEADER
export -f C
STATE=
for _ in $(seq 1 300); do
	STATE=$(C systemctl is-system-running 2>/dev/null || true)
	case "$STATE" in running | degraded) break ;; esac
	kill -0 "$NSPAWN_PID" 2>/dev/null || { tail -5 "$WORK/boot.log"; skip "the container's systemd died while booting"; }
	sleep 0.1
done
echo "systemd test: booted ($STATE) in $(elapsed "$T_BOOT")s, $(C systemctl --version | head -1)"

# ---- checks ---------------------------------------------------------------------
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
prop() { C systemctl show -P "$1" spawnd.service; }
waitfor() { # waitfor SECONDS CMD...
	local n=$(($1 * 10)); shift
	for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
main_pid() { local m; m=$(prop MainPID); [ "${m:-0}" -gt 1 ] && echo "$m"; }
# The pid of a worker, from spawnctl.
pid_of() { C spawnctl --json status "$1" | grep -o '"pid":[0-9]*' | head -1 | cut -d: -f2; }
states() { C spawnctl status | awk 'NR > 1 && $1 != "bpf:" {print $1 "=" $2}' | tr '\n' ' '; }
# What STATUS= adds when spawnd runs without its eBPF probes (in this
# container bpf(2) is denied: spawnd says so): "; bpf degraded: why".
bpf_mode() { C spawnctl --json status | grep -o '"bpf":"[^"]*"' | head -n 1 | cut -d '"' -f 4; }
bpf_suffix() { local m; m=$(bpf_mode); [ "$m" = full ] || printf '; bpf %s' "$m"; }
all_ready() { [ "$(states)" = "$1" ]; }
# Every process in spawnd's cgroup (spawnd, its guard, the workers and theirs).
tree_pids() { C sh -c 'cat $(find /sys/fs/cgroup/system.slice/spawnd.service -name cgroup.procs) 2>/dev/null' | sort -n | tr '\n' ' '; }
none_alive() { local p; for p in $1; do C sh -c "kill -0 $p" 2>/dev/null && return 1; done; return 0; }
journal() { C journalctl -b --no-pager "$@" 2>/dev/null; }
has() { local pat=$1; shift; "$@" | grep -q -- "$pat"; } # has PATTERN CMD...
quiet() { "$@" >/dev/null; }
hasx() { local pat=$1; shift; "$@" | grep -qx -- "$pat"; }
active_restarts() { [ "$(C systemctl is-active spawnd.service)" = active ] && [ "$(prop NRestarts)" = "$1" ]; }
READY4="/=ready a=ready web=ready web/api=ready b=ready slow=ready "
T=$(now)

# start: active only once the tree is ready
C rm -rf /run/spawnd-test
T_START=$(now)
C systemctl start spawnd.service || true
START_S=$(elapsed "$T_START")
check "systemctl start: active" [ "$(C systemctl is-active spawnd.service)" = active ]
check "active only once every child is ready (took ${START_S}s; a says READY=1 after 1.5s): $(states)" \
	all_ready "$READY4"
check "bpf mode reported: '$(bpf_mode)'" [ -n "$(bpf_mode)" ]
check "STATUS= '$(prop StatusText)'" [ "$(prop StatusText)" = "4/4 children running, 0 restarts$(bpf_suffix)" ]
M=$(main_pid || echo 0)
check "Delegate=yes: spawnd in spawnd.service/supervisor" \
	hasx '0::/system.slice/spawnd.service/supervisor' C cat /proc/"$M"/cgroup
check "Delegate=yes: a worker in spawnd.service/spawnd.$M/w*" \
	hasx "0::/system.slice/spawnd.service/spawnd.$M/w[0-9]*" C cat /proc/"$(pid_of b)"/cgroup
check "spawnd's log is in the journal with fields (SPAWND_CHILD=web/api: 'api up')" \
	waitfor 3 has 'api up' journal SPAWND_CHILD=web/api -o cat
check "a child's output is in the journal as its own: SYSLOG_IDENTIFIER=api SYSLOG_PID=$(pid_of web/api)" \
	has "api up" journal SYSLOG_IDENTIFIER=api SYSLOG_PID="$(pid_of web/api)" SPAWND_PID="$(pid_of web/api)" -o cat

# reload: a change applied, the rest untouched; a bad file refused
PIDS_BEFORE="$(pid_of a) $(pid_of web/api) $(pid_of b) $(pid_of slow)"
write_conf ', { name = "d"; exec = [ "/usr/local/bin/tchild", "d" ]; }'
check "systemctl reload (spawnctl reload): succeeds" C systemctl reload spawnd.service
check "reload: the new child d runs" waitfor 3 has 'd=ready' states
check "reload: the others not restarted (pids $PIDS_BEFORE)" \
	[ "$(pid_of a) $(pid_of web/api) $(pid_of b) $(pid_of slow)" = "$PIDS_BEFORE" ]
check "reload: spawnd itself not restarted" [ "$(main_pid)" = "$M" ] 
echo 'children = ( { name = "x" ; } ); oops' >>"$ROOTFS/etc/spawnd/spawnd.conf"
check "systemctl reload of a bad file fails" bash -c '! "$@" 2>/dev/null' _ C systemctl reload spawnd.service
check "bad reload: still active, nothing changed" \
	[ "$(C systemctl is-active spawnd.service) $(pid_of a) $(pid_of web/api) $(pid_of b) $(pid_of slow)" = "active $PIDS_BEFORE" ]
write_conf
C systemctl reload spawnd.service || true
check "reload: d removed again" waitfor 3 all_ready "$READY4"

# a crash, in the journal under the child's name
API=$(pid_of web/api)
[ "${API:-0}" -gt 1 ] && C sh -c "kill -SEGV $API"
check "web/api restarted after SIGSEGV" waitfor 5 bash -c '[ "$(C spawnctl --json status web/api | grep -o "\"restarts\":[0-9]*")" = "\"restarts\":1" ]'
check "journalctl SPAWND_CHILD=web/api shows the crash" \
	waitfor 3 has "web/api\[$API\]: killed by SIGSEGV" journal SPAWND_CHILD=web/api -o cat
check "... with SPAWND_EVENT=crashed SPAWND_SIGNAL=11 SPAWND_PID=$API PRIORITY=3" \
	has . journal SPAWND_CHILD=web/api SPAWND_EVENT=crashed SPAWND_SIGNAL=11 SPAWND_PID="$API" PRIORITY=3 -o cat
check "STATUS= counts the restart: '$(prop StatusText)'" \
	waitfor 2 bash -c '[ "$(C systemctl show -P StatusText spawnd.service)" = "4/4 children running, 1 restart$1" ]' _ "$(bpf_suffix)"

# the watchdog's pings have kept it alive so far (more than 2 x WatchdogSec)
sleep $((2 * WDSEC - ${START_S%.*} > 0 ? 2 * WDSEC - ${START_S%.*} : 0))
check "WATCHDOG=1 pings: no restart in $(elapsed "$T_START")s (WatchdogSec=${WDSEC}s)" active_restarts 0

# a child floods while journald is frozen: spawnd does not wait for journald
# (a full queue would otherwise hold its loop, and its watchdog pings), it
# drops what journald does not take and says so once journald takes again
JD=$(C pidof systemd-journald || true)
[ -n "$JD" ] && C kill -STOP "$JD"
write_conf ', { name = "flood"; exec = [ "/bin/sh", "-c", "seq 1 3000; exec sleep 1000" ]; }'
C spawnctl reload >/dev/null || true
sleep 1
check "journald frozen, a child prints 3000 lines: spawnd answers within 1 s" \
	timeout 1 bash -c 'C spawnctl status >/dev/null'
[ -n "$JD" ] && C kill -CONT "$JD"
write_conf
C spawnctl reload >/dev/null || true
check "... not restarted by its watchdog meanwhile" active_restarts 0
check "... and the journal says how many lines it dropped" \
	waitfor 5 has 'log lines dropped (journald was not taking them)' journal -u spawnd.service -o cat
check "... flood removed again" waitfor 3 all_ready "$READY4"

# SIGKILL: no orphan, restarted with the tree
OLD=$(tree_pids)
M=$(main_pid || echo 0)
[ "$M" -gt 1 ] && C sh -c "kill -KILL $M"
check "SIGKILL: systemd restarts spawnd (Restart=on-failure)" waitfor 10 active_restarts 1
check "SIGKILL: no process of the old tree is left ($(echo $OLD | wc -w) were)" none_alive "$OLD"
check "SIGKILL: the tree is back: $(states)" waitfor 5 all_ready "$READY4"

# SIGSTOP: the watchdog restarts it
OLD=$(tree_pids)
M=$(main_pid || echo 0)
T_WD=$(now)
[ "$M" -gt 1 ] && C sh -c "kill -STOP $M"
check "SIGSTOP: watchdog timeout, restarted" waitfor 15 active_restarts 2
echo "     (restarted $(elapsed "$T_WD")s after SIGSTOP; WatchdogSec=${WDSEC}s, TimeoutAbortSec=1s)"
check "SIGSTOP: the journal says 'Watchdog timeout'" has 'Watchdog timeout' journal -u spawnd.service -o cat
check "SIGSTOP: no process of the frozen tree is left" waitfor 3 none_alive "$OLD"
check "SIGSTOP: the tree is back" waitfor 5 all_ready "$READY4"

# stop: in reverse order, cleanly, past TimeoutStopSec=2s
C rm -rf /run/spawnd-test
T_STOP=$(now)
C systemctl stop spawnd.service || true
STOP_S=$(elapsed "$T_STOP")
ORDER=$(C cat /run/spawnd-test/order 2>/dev/null | tr '\n' ',' || true)
check "stop: every child, in reverse order: $ORDER" \
	[ "$ORDER" = "stop slow,done slow,stop b,done b,stop api,done api,stop a,done a," ]
check "stop: clean (Result=$(prop Result)) in ${STOP_S}s though TimeoutStopSec=2s (EXTEND_TIMEOUT_USEC)" \
	[ "$(prop Result)" = success ]
check "stop: inactive, no tchild left" bash -c '[ "$(C systemctl is-active spawnd.service)" = inactive ] && ! C pgrep -f tchild >/dev/null'

# socket activation: the first spawnctl starts spawnd
C systemctl start spawnd.socket || true
check "spawnd.socket listening, spawnd inactive" \
	[ "$(C systemctl is-active spawnd.socket) $(C systemctl is-active spawnd.service)" = "active inactive" ]
check "spawnctl through the socket unit starts spawnd and is answered" quiet C spawnctl status
check "spawnd serves systemd's socket" \
	waitfor 3 has 'control socket /run/spawnd/control (from systemd)' journal -u spawnd.service -o cat
check "socket-activated spawnd reaches active with its tree" \
	waitfor 5 bash -c '[ "$(C systemctl is-active spawnd.service)" = active ]'
C systemctl stop spawnd.service 2>/dev/null || true # (warns: the socket can start it again)
check "after spawnd stops, the socket stays (systemd's to remove)" C test -S /run/spawnd/control
check "... and spawnctl starts it again" quiet C spawnctl status
C systemctl stop spawnd.service spawnd.socket || true

# the root supervisor gives up: spawnd exits 1 and systemd starts the tree again
cat >"$ROOTFS/etc/spawnd/spawnd.conf" <<'EOF'
name = "main";
intensity = 1;
period = 60;
children = ( { name = "crash"; exec = [ "/bin/sh", "-c", "sleep 0.3; exit 3" ]; } );
EOF
STARTS=$(journal -u spawnd.service -o cat | grep -c '^starting main' || true)
C systemctl start spawnd.service || true
check "root gives up: spawnd exits 1" \
	waitfor 10 has 'Main process exited, code=exited, status=1/FAILURE' journal -u spawnd.service -o cat
check "... and systemd starts the tree again (Restart=on-failure)" \
	waitfor 10 bash -c '[ "$(C journalctl -b -u spawnd.service -o cat | grep -c "^starting main")" -ge $(('"$STARTS"' + 2)) ]'
C systemctl stop spawnd.service || true
C systemctl reset-failed spawnd.service 2>/dev/null || true
write_conf

# without Delegate=yes the unit's group is systemd's: spawnd does not move
printf '[Service]\nDelegate=no\n' >"$ROOTFS/etc/systemd/system/spawnd.service.d/nodelegate.conf"
C systemctl daemon-reload
C systemctl start spawnd.service || true
M=$(main_pid || echo 0)
check "Delegate=no: spawnd stays in spawnd.service (not moved to supervisor/)" \
	hasx '0::/system.slice/spawnd.service' C cat /proc/"$M"/cgroup
check "Delegate=no: the tree still runs" all_ready "$READY4"
C systemctl stop spawnd.service || true
rm -f "$ROOTFS/etc/systemd/system/spawnd.service.d/nodelegate.conf"
C systemctl daemon-reload

echo "systemd test: checks $(elapsed "$T")s, all $(elapsed "$T_ALL")s"
echo "systemd test: $PASS passed, $FAIL failed"
if [ "$FAIL" != 0 ]; then
	echo "--- journalctl -u spawnd.service (last 60 lines)"
	journal -u spawnd.service -n 60
	exit 1
fi
