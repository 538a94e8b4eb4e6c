// overhead: the target program of scripts/bench-overhead.sh.
//
// It allocates escaping 32-byte objects in a tight loop, so that the cost of
// a tracer's probe on the Go allocator shows as nanoseconds per allocation.
// Each object is a pointer-free struct of four int64 (32 bytes, size class
// 32, "noscan"; not the tiny allocator, which serves noscan objects under 16
// bytes), assigned to a global sink so that it escapes to the heap: one call
// to runtime.newobject -> runtime.mallocgc per iteration.
//
// Protocol, line by line, so that a tracer can attach from outside between
// batches:
//
//	out: "pid P"  then  "ready"
//	in:  "go N"      run N allocations, timed with time.Now
//	out: "ns_per_alloc X allocs N seconds S"
//	... until EOF on stdin, then it exits 0.
//
// GOMAXPROCS is not changed: the GC runs on other threads as it would in any
// program; the loop itself is single-threaded.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// obj is 32 bytes with no pointers.
type obj struct {
	a, b, c, d int64
}

// sink makes every allocation escape.
var sink *obj

//go:noinline
func allocate(n int) {
	for i := 0; i < n; i++ {
		sink = &obj{a: int64(i)}
	}
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "pid %d\nready\n", os.Getpid())
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) != 2 || fields[0] != "go" {
			fmt.Fprintf(os.Stderr, "overhead: expected \"go N\", got %q\n", in.Text())
			os.Exit(2)
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "overhead: bad count %q\n", fields[1])
			os.Exit(2)
		}
		start := time.Now()
		allocate(n)
		elapsed := time.Since(start)
		fmt.Fprintf(out, "ns_per_alloc %.3f allocs %d seconds %.6f\n", float64(elapsed.Nanoseconds())/float64(n), n, elapsed.Seconds())
		out.Flush()
	}
}
