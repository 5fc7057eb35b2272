#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The libgp example servers, end to end over real loopback TCP (bash's
# /dev/tcp): echo answers, and in chat a client that sends a malformed line
# is dropped alone while the room goes on.
# usage: examples.sh BUILD_DIR
set -euo pipefail
build=$1
port_echo=$((20000 + RANDOM % 20000))
port_chat=$((port_echo + 1))
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
fail() { echo "examples.sh: $*" >&2; exit 1; }

"$build/examples/echo" "$port_echo" >/dev/null & pids+=($!)
"$build/examples/chat" "$port_chat" >/dev/null 2>&1 & pids+=($!)
connect() { # connect FD PORT: retry until the server listens
	for _ in $(seq 100); do
		if eval "exec $1<>/dev/tcp/127.0.0.1/$2" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	fail "nothing listens on port $2"
}

connect 3 "$port_echo"
printf 'hello, echo\n' >&3
IFS= read -r -t 5 line <&3 || fail "echo did not answer"
[[ $line == "hello, echo" ]] || fail "echo answered '$line'"
exec 3>&-

connect 4 "$port_chat"
connect 5 "$port_chat"
connect 6 "$port_chat"
for fd in 4 5 6; do
	IFS= read -r -t 5 line <&$fd || fail "no welcome on fd $fd"
done
printf 'bad\001line\n' >&6          # malformed: client 6 is dropped...
if IFS= read -r -t 5 line <&6; then fail "the malformed client got '$line'"; fi
sleep 0.2
printf 'still here\n' >&4            # ...and the others carry on
IFS= read -r -t 5 line <&5 || fail "the room went quiet after a client was dropped"
[[ $line == *": still here" ]] || fail "client 5 got '$line'"
echo "examples: echo answers; chat drops a malformed client alone"
