// SPDX-License-Identifier: MIT

// echo: the Go TCP echo server of bench/echo, written the way the net
// package is meant to be used: one goroutine per connection, blocking
// Read and Write (the runtime's netpoller underneath). Standard library
// only. Schedulers: the GOMAXPROCS environment variable.
//
//	echo [PORT]
//
// Listens on 127.0.0.1:PORT (0, the default: any free port) and prints
// "echo listening PORT" on stdout once it does. Each connection reads up
// to 4 KiB and writes it back until the peer goes. Runs until killed.
// Exit status 1 if it cannot start, 2 on a bad command line. (Go sets
// TCP_NODELAY on every connection itself, and raises RLIMIT_NOFILE's soft
// limit to the hard one; the listen backlog is net.core.somaxconn.)
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	port := 0
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: echo [PORT]")
		os.Exit(2)
	}
	if len(os.Args) == 2 {
		p, err := strconv.Atoi(os.Args[1])
		if err != nil || p < 0 || p > 65535 {
			fmt.Fprintln(os.Stderr, "usage: echo [PORT]")
			os.Exit(2)
		}
		port = p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo: fatal: unable to listen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("echo listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of descriptors, or a connection reset before we took
			// it: the server goes on.
			fmt.Fprintf(os.Stderr, "echo: accept: %v\n", err)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
