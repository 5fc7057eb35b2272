% SPDX-License-Identifier: MIT
%
% echo: the Erlang TCP echo server of bench/echo, written the way gen_tcp is
% meant to be used: a process per connection, {active, once} flow control.
%
%   erl -noshell +S N:N -pa DIR -run echo main [PORT]
%
% Listens on 127.0.0.1:PORT (0, the default: any free port) and prints
% "echo listening PORT" on stdout once it does. Each acceptor process takes
% one connection, starts the next acceptor and echoes what comes, as it
% comes, until the peer goes. Runs until killed. Exit status 1 if it cannot
% start, 2 on a bad command line.

-module(echo).
-export([main/0, main/1]).

%% "-run echo main" without arguments calls main/0.
main() -> main([]).

main(Args) ->
    Port = case Args of
               [] -> 0;
               [P] -> try list_to_integer(P) catch error:badarg -> usage() end;
               _ -> usage()
           end,
    Opts = [binary, {packet, raw}, {active, false}, {reuseaddr, true},
            {ip, {127, 0, 0, 1}}, {backlog, 65535}, {nodelay, true}],
    case gen_tcp:listen(Port, Opts) of
        {ok, L} ->
            {ok, Bound} = inet:port(L),
            io:format("echo listening ~b~n", [Bound]),
            spawn(fun() -> acceptor(L) end),
            %% The listening socket lives as long as its owner, this process.
            receive after infinity -> ok end;
        {error, Reason} ->
            io:format(standard_error, "echo: fatal: unable to listen: ~p~n", [Reason]),
            erlang:halt(1)
    end.

usage() ->
    io:format(standard_error, "usage: echo [PORT]~n", []),
    erlang:halt(2).

acceptor(L) ->
    case gen_tcp:accept(L) of
        {ok, S} ->
            spawn(fun() -> acceptor(L) end),
            next(S);
        {error, Reason} ->
            %% Out of descriptors, or a connection reset before we took it:
            %% the server goes on.
            io:format(standard_error, "echo: accept: ~p~n", [Reason]),
            timer:sleep(10),
            acceptor(L)
    end.

%% Ask for the next packet; a socket the peer has reset meanwhile ends here.
next(S) ->
    case inet:setopts(S, [{active, once}]) of
        ok -> loop(S);
        {error, _} -> gen_tcp:close(S)
    end.

loop(S) ->
    receive
        {tcp, S, Data} ->
            case gen_tcp:send(S, Data) of
                ok ->
                    next(S);
                {error, _} ->
                    gen_tcp:close(S)
            end;
        {tcp_closed, S} ->
            ok;
        {tcp_error, S, _} ->
            gen_tcp:close(S)
    end.
