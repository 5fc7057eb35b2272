#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed units pass `systemd-analyze verify` without a word on
# stderr (it exits 0 on unknown keys and bad values, printing only
# warnings). Installed for real into a scratch prefix, so that the
# ExecStart= and ExecReload= programs exist where the units say.
# usage: units.sh BUILD_DIR
set -eu
build=$1
command -v systemd-analyze >/dev/null ||
	{ echo "units: SKIP: no systemd-analyze (make deps installs the systemd package)"; exit 0; }
top=$(cd "$(dirname "$0")/../.." && pwd)
p=$(mktemp -d)
trap 'rm -rf "$p"' EXIT
dirs="PREFIX=$p/usr sysconfdir=$p/etc systemdunitdir=$p/units bashcompdir=$p/completions"
# shellcheck disable=SC2086 # $dirs: one word per variable
make -C "$top" --no-print-directory -s install $dirs B="$build" >/dev/null
err=$(systemd-analyze verify --man=no "$p/units/spawnd.service" "$p/units/spawnd.socket" 2>&1 >/dev/null) ||
	{ echo "units: systemd-analyze verify failed: $err" >&2; exit 1; }
[ -z "$err" ] || { printf 'units: systemd-analyze verify says:\n%s\n' "$err" >&2; exit 1; }
grep -q "^ExecStart=$p/usr/sbin/spawnd " "$p/units/spawnd.service" ||
	{ echo "units: ExecStart= does not name the installed spawnd" >&2; exit 1; }
# shellcheck disable=SC2086
make -C "$top" --no-print-directory -s uninstall $dirs B="$build" >/dev/null
echo "units: spawnd.service and spawnd.socket verify cleanly (systemd $(systemd-analyze --version | awk 'NR==1{print $2}'))"
