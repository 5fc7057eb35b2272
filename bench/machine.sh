# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# bench/machine.sh: what a benchmark report says of the machine and the
# toolchains, the same in every report. Sourced by bench/run.sh and
# bench/echo/run.sh from the repository's root.
#
# machine_facts GO_BINARY CC: sets cpu_model, cpu_count, mem, otp, gover and
# gccver ("n/a (why)" for what is missing).
machine_facts() {
	local gobin=$1 cc=$2
	cpu_model=$(awk -F ': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	cpu_count=$(grep -c '^processor' /proc/cpuinfo)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	otp=$(erl -noshell -eval '
		R = erlang:system_info(otp_release),
		F = filename:join([code:root_dir(), "releases", R, "OTP_VERSION"]),
		V = case file:read_file(F) of {ok, B} -> string:trim(B); _ -> R end,
		io:format("Erlang/OTP ~s, ERTS ~s", [V, erlang:system_info(version)]),
		halt().' 2>/dev/null) || otp="n/a (erl did not run)"
	gover=$(go version "$gobin" 2>/dev/null | awk '{ print $NF }') || true
	if [ -n "$gover" ]; then
		gover="$gover (toolchain that built $gobin)"
	else
		gover=$(go version 2>/dev/null) || gover="n/a (go not installed)"
	fi
	gccver=$($cc --version 2>/dev/null | head -n 1) || gccver="n/a ($cc not installed)"
}
