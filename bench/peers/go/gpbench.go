// SPDX-License-Identifier: MIT

// gpbench: the libgp benchmark workloads written in plain, idiomatic Go
// (goroutines, unbuffered channels, one channel per goroutine as its
// mailbox), so that bench/run.sh can compare libgp with Go in one run.
// Standard library only. Schedulers: the GOMAXPROCS environment variable.
//
//	gpbench WORKLOAD [ARGS]
//
// Each workload prints "WORKLOAD METRIC VALUE" lines on stdout (nothing
// else), diagnostics on stderr; exit status 0 on success, 1 on a wrong
// result, 2 on a bad command line.
//
//	pingpong [N=1000000]     two goroutines bounce a small message N times:
//	                         ns per round trip.
//	ring [P=10000] [H=10000000]
//	                         P goroutines in a ring pass one token H hops in
//	                         total: ns per hop (building the ring is not
//	                         timed).
//	churn [N=1000000]        N times in sequence: start a goroutine that
//	                         sends one message to its parent and exits,
//	                         receive that message: goroutines per second.
//	skynet [N=1000000]       10-ary tree of goroutines with N leaves (N a
//	                         power of 10); each leaf sends its number, each
//	                         inner goroutine sums its 10 children and sends
//	                         the sum up; total checked: wall time in ms.
//	spawn_idle [N=1000000]   start N goroutines that block receiving on
//	                         their channel: ms until all are parked, RSS
//	                         growth per goroutine, ms to send each one a
//	                         message and see all exit.
//	spawn_hibernate [N]      Erlang only; prints "spawn_hibernate
//	                         unsupported 0".
//	yield [N=10000000]       two goroutines each call runtime.Gosched N
//	                         times: total time / total number of yields.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const usage = `usage: gpbench pingpong [N] | ring [P] [H] | churn [N] | skynet [N]
             | spawn_idle [N] | spawn_hibernate [N] | yield [N]
`

func fail(code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gpbench: "+format+"\n", a...)
	if code == 2 {
		fmt.Fprint(os.Stderr, usage)
	}
	os.Exit(code)
}

// ints parses the positive integer arguments, filling in the defaults.
func ints(args []string, defaults ...int) []int {
	if len(args) > len(defaults) {
		fail(2, "too many arguments")
	}
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n <= 0 {
			fail(2, "not a positive integer: %s", a)
		}
		defaults[i] = n
	}
	return defaults
}

func report(w, metric string, v float64) {
	fmt.Printf("%s %s %.3f\n", w, metric, v)
}

func main() {
	if len(os.Args) < 2 {
		fail(2, "no workload")
	}
	w, args := os.Args[1], os.Args[2:]
	switch w {
	case "pingpong":
		pingpong(ints(args, 1000000)[0])
	case "ring":
		a := ints(args, 10000, 10000000)
		ring(a[0], a[1])
	case "churn":
		churn(ints(args, 1000000)[0])
	case "skynet":
		skynetBench(ints(args, 1000000)[0])
	case "spawn_idle":
		spawnIdle(ints(args, 1000000)[0])
	case "spawn_hibernate":
		ints(args, 1000000)
		fmt.Println("spawn_hibernate unsupported 0")
	case "yield":
		yield(ints(args, 10000000)[0])
	default:
		fail(2, "unknown workload %s", w)
	}
}

// pingpong: main pings, a second goroutine pongs.
func pingpong(n int) {
	ping := make(chan int) // the ponger's mailbox
	pong := make(chan int) // main's mailbox
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	el := time.Since(t0)
	close(ping)
	report("pingpong", "ns_per_rt", float64(el.Nanoseconds())/float64(n))
}

// ring: the token is the number of hops still to go; the goroutine that
// receives 1 makes the last hop and tells main.
func ring(p, h int) {
	if p < 2 {
		fail(2, "ring needs at least 2 goroutines")
	}
	done := make(chan struct{})
	mb := make([]chan int, p)
	for i := range mb {
		mb[i] = make(chan int)
	}
	for i := range mb {
		go ringNode(mb[i], mb[(i+1)%p], done)
	}
	t0 := time.Now()
	mb[0] <- h
	<-done
	el := time.Since(t0)
	report("ring", "ns_per_hop", float64(el.Nanoseconds())/float64(h))
}

func ringNode(in <-chan int, next chan<- int, done chan<- struct{}) {
	for k := range in {
		if k == 1 {
			done <- struct{}{}
		} else {
			next <- k - 1
		}
	}
}

// churn: start, one message back, exit; strictly one child at a time.
func churn(n int) {
	mb := make(chan struct{}) // the parent's mailbox
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { mb <- struct{}{} }()
		<-mb
	}
	el := time.Since(t0)
	report("churn", "procs_per_sec", float64(n)/el.Seconds())
}

// skynet: https://github.com/atemerev/skynet (the Go version, as is).
func skynetBench(n int) {
	for m := n; m > 1; m /= 10 {
		if m%10 != 0 {
			fail(2, "skynet needs a power of 10")
		}
	}
	c := make(chan int)
	t0 := time.Now()
	go skynet(c, 0, n)
	sum := <-c
	el := time.Since(t0)
	if want := n * (n - 1) / 2; sum != want {
		fail(1, "skynet sum %d, expected %d", sum, want)
	}
	report("skynet", "ms", float64(el.Nanoseconds())/1e6)
}

func skynet(c chan<- int, num, size int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sub := size / 10
	for i := 0; i < 10; i++ {
		go skynet(rc, num+i*sub, sub)
	}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

// spawnIdle: "all parked" is a WaitGroup each goroutine marks done as the
// last thing before it blocks on its channel, so every one has really run
// up to its park point. The slice of channels (the mailboxes main must
// keep to message them) is part of the measured memory. "All exited":
// after one message to each, main polls runtime.NumGoroutine (a counter
// read), yielding between polls, until it is back where it was.
func spawnIdle(n int) {
	base := runtime.NumGoroutine()
	rss0 := rss()
	mbs := make([]chan struct{}, n)
	var up sync.WaitGroup
	up.Add(n)
	t0 := time.Now()
	for i := range mbs {
		mb := make(chan struct{})
		mbs[i] = mb
		go func() {
			up.Done()
			<-mb
		}()
	}
	up.Wait()
	spawn := time.Since(t0)
	rss1 := rss()
	t1 := time.Now()
	for _, mb := range mbs {
		mb <- struct{}{}
	}
	for runtime.NumGoroutine() > base {
		runtime.Gosched()
	}
	release := time.Since(t1)
	report("spawn_idle", "spawn_ms", float64(spawn.Nanoseconds())/1e6)
	report("spawn_idle", "bytes_per_proc", float64(rss1-rss0)/float64(n))
	report("spawn_idle", "release_ms", float64(release.Nanoseconds())/1e6)
}

// rss is the resident set of the OS process in bytes (/proc/self/statm).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail(1, "%v", err)
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		fail(1, "cannot parse /proc/self/statm")
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		fail(1, "cannot parse /proc/self/statm: %v", err)
	}
	return pages * int64(os.Getpagesize())
}

// yield: two goroutines yield in a loop; main just waits for both.
func yield(n int) {
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	report("yield", "ns_per_switch", float64(el.Nanoseconds())/float64(2*n))
}
