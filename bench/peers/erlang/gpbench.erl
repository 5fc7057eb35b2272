% SPDX-License-Identifier: MIT
%
% gpbench: the libgp benchmark workloads written in plain, idiomatic Erlang
% (processes, message passing, receive), so that bench/run.sh can compare
% libgp with BEAM in one run.
%
%   erl -noshell +S N +P 2000000 -pa DIR -run gpbench main WORKLOAD [ARGS]
%
% Each workload prints "WORKLOAD METRIC VALUE" lines on stdout (nothing
% else), diagnostics on stderr; exit status 0 on success, 1 on a wrong
% result or a crash, 2 on a bad command line.
%
%   pingpong [N=1000000]      two processes bounce a small message N times:
%                             ns per round trip.
%   ring [P=10000] [H=10000000]
%                             P processes in a ring pass one token H hops
%                             in total: ns per hop (building the ring is
%                             not timed).
%   churn [N=1000000]         N times in sequence: spawn a process that
%                             sends one message to its parent and exits,
%                             receive that message: processes per second.
%   skynet [N=1000000]        10-ary tree of processes with N leaves (N a
%                             power of 10); each leaf sends its number, each
%                             inner process sums its 10 children and sends
%                             the sum up; total checked: wall time in ms.
%   spawn_idle [N=1000000]    spawn N processes that block in receive: ms
%                             until all are parked, RSS growth per process,
%                             ms to send each one a message and see all exit.
%   spawn_hibernate [N=1000000]
%                             the same, parked in erlang:hibernate/3.
%   yield [N=10000000]        two processes each call erlang:yield/0 N times:
%                             total time / total number of yields.

-module(gpbench).
-export([main/0, main/1, wake/0]).

%% "-run gpbench main" without arguments calls main/0.
main() -> main([]).

main(Args) ->
    Code = try run(Args) of
               ok -> 0
           catch
               throw:{usage, Msg} ->
                   io:format(standard_error, "gpbench: ~s~n~s", [Msg, usage()]),
                   2;
               throw:{wrong, Msg} ->
                   io:format(standard_error, "gpbench: ~s~n", [Msg]),
                   1;
               Class:Reason:Stack ->
                   io:format(standard_error, "gpbench: ~p:~p~n~p~n",
                             [Class, Reason, Stack]),
                   1
           end,
    erlang:halt(Code).

usage() ->
    "usage: gpbench pingpong [N] | ring [P] [H] | churn [N] | skynet [N]\n"
    "             | spawn_idle [N] | spawn_hibernate [N] | yield [N]\n".

run(["pingpong" | A]) -> [N] = ints(A, [1000000]), pingpong(N);
run(["ring" | A]) -> [P, H] = ints(A, [10000, 10000000]), ring(P, H);
run(["churn" | A]) -> [N] = ints(A, [1000000]), churn(N);
run(["skynet" | A]) -> [N] = ints(A, [1000000]), skynet(N);
run(["spawn_idle" | A]) ->
    [N] = ints(A, [1000000]),
    spawn_parked(spawn_idle, N, fun() -> receive go -> ok end end);
run(["spawn_hibernate" | A]) ->
    [N] = ints(A, [1000000]),
    spawn_parked(spawn_hibernate, N,
                 fun() -> erlang:hibernate(?MODULE, wake, []) end);
run(["yield" | A]) -> [N] = ints(A, [10000000]), yield(N);
run([W | _]) -> throw({usage, "unknown workload " ++ W});
run([]) -> throw({usage, "no workload"}).

ints(Args, Defaults) when length(Args) =< length(Defaults) ->
    [int(A) || A <- Args] ++ lists:nthtail(length(Args), Defaults);
ints(_, _) ->
    throw({usage, "too many arguments"}).

int(S) ->
    case string:to_integer(S) of
        {I, ""} when I > 0 -> I;
        _ -> throw({usage, "not a positive integer: " ++ S})
    end.

now_ns() -> erlang:monotonic_time(nanosecond).

report(W, Metric, V) -> io:format("~s ~s ~.3f~n", [W, Metric, float(V)]).

%% pingpong: the main process pings, a second process pongs. As in the Go
%% version, the ponger knows whom to answer, so both messages are atoms.
pingpong(N) ->
    Main = self(),
    Pong = spawn(fun() -> pong(Main) end),
    T0 = now_ns(),
    ping(Pong, N),
    T = now_ns() - T0,
    Pong ! stop,
    report(pingpong, ns_per_rt, T / N).

ping(_, 0) -> ok;
ping(Pong, N) ->
    Pong ! ping,
    receive pong -> ping(Pong, N - 1) end.

pong(Main) ->
    receive
        ping -> Main ! pong, pong(Main);
        stop -> ok
    end.

%% ring: the token is the number of hops still to go; the process that
%% receives 1 makes the last hop and tells the main process.
ring(P, _) when P < 2 -> throw({usage, "ring needs at least 2 processes"});
ring(P, H) ->
    Main = self(),
    First = spawn(fun() -> receive {next, Next} -> ring_node(Next, Main) end end),
    Last = lists:foldl(fun(_, Next) -> spawn(fun() -> ring_node(Next, Main) end) end,
                       First, lists:seq(2, P)),
    First ! {next, Last},
    T0 = now_ns(),
    Last ! H,
    receive done -> ok end,
    T = now_ns() - T0,
    report(ring, ns_per_hop, T / H).

ring_node(Next, Main) ->
    receive
        1 -> Main ! done;
        K -> Next ! K - 1
    end,
    ring_node(Next, Main).

%% churn: spawn, one message back, exit; strictly one child at a time.
churn(N) ->
    Self = self(),
    T0 = now_ns(),
    churn_loop(Self, N),
    T = now_ns() - T0,
    report(churn, procs_per_sec, N / (T / 1.0e9)).

churn_loop(_, 0) -> ok;
churn_loop(Self, N) ->
    spawn(fun() -> Self ! done end),
    receive done -> churn_loop(Self, N - 1) end.

%% skynet: https://github.com/atemerev/skynet
skynet(N) ->
    is_power_of_10(N) orelse throw({usage, "skynet needs a power of 10"}),
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> skynet(Self, 0, N) end),
    Sum = receive S -> S end,
    T = now_ns() - T0,
    Sum =:= N * (N - 1) div 2
        orelse throw({wrong, io_lib:format("skynet sum ~b, expected ~b",
                                           [Sum, N * (N - 1) div 2])}),
    report(skynet, ms, T / 1.0e6).

is_power_of_10(1) -> true;
is_power_of_10(N) -> N rem 10 =:= 0 andalso is_power_of_10(N div 10).

skynet(Parent, Num, 1) ->
    Parent ! Num;
skynet(Parent, Num, Size) ->
    Self = self(),
    Sub = Size div 10,
    [spawn(fun() -> skynet(Self, Num + I * Sub, Sub) end) || I <- lists:seq(0, 9)],
    Parent ! collect(10, 0).

collect(0, Sum) -> Sum;
collect(K, Sum) -> receive S -> collect(K - 1, Sum + S) end.

%% spawn_idle / spawn_hibernate.
%%
%% "All parked": each child bumps a shared atomic counter as the last thing
%% before it parks (receive, or erlang:hibernate/3); the child that brings
%% it to N sends the parent one message. This proves every child actually
%% ran up to its park point, costs one atomic add per child and keeps
%% N messages out of the parent's mailbox (which would inflate RSS).
%% The parent keeps the pids (it must, to message them); that list is
%% part of the measured memory, as Go's slice of channels is.
%%
%% "All exited": after one message to each child, the parent polls the
%% VM's process count (a single counter read) until it is back where it was,
%% yielding between polls so the children can run on its scheduler.
spawn_parked(W, N, Park) ->
    Page = page_size(),
    Main = self(),
    Up = atomics:new(1, []),
    Child = fun() ->
                    case atomics:add_get(Up, 1, 1) of
                        N -> Main ! all_up;
                        _ -> ok
                    end,
                    Park()
            end,
    Base = erlang:system_info(process_count),
    Rss0 = rss_pages(),
    T0 = now_ns(),
    Pids = spawn_n(N, Child, []),
    receive all_up -> ok end,
    T1 = now_ns(),
    Rss1 = rss_pages(),
    T2 = now_ns(),
    lists:foreach(fun(P) -> P ! go end, Pids),
    wait_exited(Base),
    T3 = now_ns(),
    report(W, spawn_ms, (T1 - T0) / 1.0e6),
    report(W, bytes_per_proc, (Rss1 - Rss0) * Page / N),
    report(W, release_ms, (T3 - T2) / 1.0e6).

spawn_n(0, _, Pids) -> Pids;
spawn_n(K, F, Pids) -> spawn_n(K - 1, F, [spawn(F) | Pids]).

%% Where a hibernated process resumes when its message arrives.
wake() -> receive go -> ok end.

wait_exited(Base) ->
    case erlang:system_info(process_count) > Base of
        true -> erlang:yield(), wait_exited(Base);
        false -> ok
    end.

%% Resident pages of the OS process: second field of /proc/self/statm.
rss_pages() ->
    {ok, B} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = binary:split(B, <<" ">>, [global]),
    binary_to_integer(Resident).

page_size() ->
    case string:to_integer(os:cmd("getconf PAGESIZE")) of
        {P, _} when is_integer(P), P > 0 -> P;
        _ -> 4096
    end.

%% yield: two processes yield in a loop; the parent just waits for both.
yield(N) ->
    Main = self(),
    T0 = now_ns(),
    [spawn(fun() -> yield_loop(N), Main ! done end) || _ <- [1, 2]],
    receive done -> ok end,
    receive done -> ok end,
    T = now_ns() - T0,
    report(yield, ns_per_switch, T / (2 * N)).

yield_loop(0) -> ok;
yield_loop(N) -> erlang:yield(), yield_loop(N - 1).
