// httpservice: the target and the load of scripts/bench-http.sh, a
// JSON-over-HTTP service of the kind gotrace is meant to attach to in
// production, and a closed-loop load generator for it.
//
// Usage:
//
//	httpservice serve [ADDR]
//	httpservice load -addr ADDR [-c CONNECTIONS] [-warmup SECONDS] [-seconds SECONDS]
//
// serve listens on ADDR (default 127.0.0.1:0, a free port) with net/http and
// prints, one per line, "pid P", "gomaxprocs N", "memprofilerate R" and
// "listening HOST:PORT" once it accepts connections; then it serves until
// killed. It imports net/http/pprof, as real services do, so the runtime's
// heap profiler samples at its default MemProfileRate (512 KiB): the linker
// turns the profiler off in programs that cannot write a profile.
//
// load opens CONNECTIONS keep-alive connections; each sends its next request
// as soon as the answer to the previous one has arrived (a closed loop), for
// the warm-up and then for the measured seconds, and prints one line of
// key=value figures for the measured window (see report in load.go).
//
// Standard library only; builds with Go 1.19 and later.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		if len(os.Args) > 3 {
			usage()
		}
		addr := "127.0.0.1:0"
		if len(os.Args) == 3 {
			addr = os.Args[2]
		}
		serve(addr)
	case "load":
		load(os.Args[2:])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: httpservice serve [ADDR] | httpservice load -addr ADDR [-c N] [-warmup S] [-seconds S]")
	os.Exit(2)
}
