package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The load: closed-loop keep-alive connections, each a goroutine that
// writes a request and reads its answer whole before it writes the next.
// It speaks just enough HTTP/1.1 itself (requests prepared as bytes,
// answers read by Content-Length), so that the load costs its core far less
// than the service's requests cost the service: the service is the
// bottleneck, and its throughput is what a tracer slows.
//
// The mix, per connection, from a fixed seed: 40% create an order, 35% get
// one of the 128 orders the connection created last (75% of those from the
// cache), 20% search the catalog, 5% a customer's totals.

type loadConfig struct {
	addr          string
	connections   int
	warmup, whole time.Duration // whole: the end of the measured window, from the start
}

// connection is one closed loop: its socket, what it has done, and the
// latencies of the requests it completed in the measured window.
type connection struct {
	id        int
	conn      net.Conn
	in        *bufio.Reader
	request   []byte
	body      []byte
	rng       uint64
	created   int
	total     int
	latencies []time.Duration
	err       error
}

func load(args []string) {
	flags := flag.NewFlagSet("load", flag.ExitOnError)
	addr := flags.String("addr", "", "the service's HOST:PORT")
	connections := flags.Int("c", 32, "concurrent connections")
	warmup := flags.Float64("warmup", 2, "seconds of load before the measured window")
	seconds := flags.Float64("seconds", 10, "seconds of the measured window")
	flags.Parse(args)
	if *addr == "" || *connections <= 0 || *warmup < 0 || *seconds <= 0 || flags.NArg() != 0 {
		usage()
	}
	cfg := loadConfig{addr: *addr, connections: *connections,
		warmup: time.Duration(*warmup * float64(time.Second))}
	cfg.whole = cfg.warmup + time.Duration(*seconds*float64(time.Second))

	conns := make([]*connection, cfg.connections)
	for i := range conns {
		c, err := net.Dial("tcp", cfg.addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "httpservice load: cannot connect to %s: %v\n", cfg.addr, err)
			os.Exit(1)
		}
		conns[i] = &connection{id: i, conn: c, in: bufio.NewReaderSize(c, 16384), rng: uint64(i)*0x9E3779B97F4A7C15 + 1}
	}
	start := time.Now()
	windowStart, windowEnd := start.Add(cfg.warmup), start.Add(cfg.whole)
	cpu := make(chan time.Duration, 1)
	go func() { // the load's own CPU time over the measured window
		time.Sleep(time.Until(windowStart))
		before := cpuTime()
		time.Sleep(time.Until(windowEnd))
		cpu <- cpuTime() - before
	}()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c *connection) {
			defer wg.Done()
			c.run(windowStart, windowEnd)
		}(c)
	}
	wg.Wait()
	report(conns, cfg, windowEnd.Sub(windowStart), <-cpu)
}

func (c *connection) run(windowStart, windowEnd time.Time) {
	for {
		sent := time.Now()
		if !sent.Before(windowEnd) {
			return
		}
		c.prepare()
		if c.err = c.roundTrip(); c.err != nil {
			return
		}
		done := time.Now()
		c.total++
		if done.After(windowStart) && !done.After(windowEnd) {
			c.latencies = append(c.latencies, done.Sub(sent))
		}
	}
}

// prepare writes the connection's next request into c.request.
func (c *connection) prepare() {
	c.body = c.body[:0]
	dice := c.next() % 100
	switch {
	case dice < 40 || c.created == 0:
		c.body = append(c.body, `{"id":"`...)
		c.body = c.appendOrderID(c.body, c.created)
		c.body = append(c.body, `","customer":"`...)
		c.body = c.appendCustomer(c.body, c.created)
		c.body = append(c.body, orderTails[c.next()%uint64(len(orderTails))]...)
		c.created++
		c.setRequest("POST", "/v1/orders")
	case dice < 75:
		recent := c.created
		if recent > 128 {
			recent = 128
		}
		n := c.created - 1 - int(c.next()%uint64(recent))
		c.setRequest("GET", string(c.appendOrderID([]byte("/v1/orders/"), n)))
	case dice < 95:
		c.body = append(c.body, searchQueries[c.next()%uint64(len(searchQueries))]...)
		c.setRequest("POST", "/v1/search")
	default:
		n := int(c.next() % uint64(c.created))
		c.setRequest("GET", string(c.appendCustomer([]byte("/v1/customers/"), n)))
	}
}

func (c *connection) appendOrderID(b []byte, n int) []byte {
	b = append(b, 'c')
	b = strconv.AppendInt(b, int64(c.id), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(n), 10)
}

// appendCustomer names the customer of the connection's order n: one of 64.
func (c *connection) appendCustomer(b []byte, n int) []byte {
	b = append(b, "customer-"...)
	return strconv.AppendInt(b, int64((c.id*7+n)%64), 10)
}

func (c *connection) setRequest(method, path string) {
	r := append(c.request[:0], method...)
	r = append(r, ' ')
	r = append(r, path...)
	r = append(r, " HTTP/1.1\r\nHost: httpservice\r\n"...)
	if method == "POST" {
		r = append(r, "Content-Type: application/json\r\nContent-Length: "...)
		r = strconv.AppendInt(r, int64(len(c.body)), 10)
		r = append(r, "\r\n"...)
	}
	r = append(r, "\r\n"...)
	c.request = append(r, c.body...)
}

// roundTrip sends c.request and reads the answer whole; an answer that is
// not 200 or 201 is an error.
func (c *connection) roundTrip() error {
	if _, err := c.conn.Write(c.request); err != nil {
		return err
	}
	line, err := c.in.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return fmt.Errorf("bad status line %q", line)
	}
	status := string(line[9:12])
	length := -1
	for {
		if line, err = c.in.ReadSlice('\n'); err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return errors.New("an answer without Content-Length")
	}
	if _, err := c.in.Discard(length); err != nil {
		return err
	}
	if status != "200" && status != "201" {
		return fmt.Errorf("status %s for %q", status, bytes.SplitN(c.request, []byte("\r\n"), 2)[0])
	}
	return nil
}

// next is xorshift64*: cheap, and the same sequence every run.
func (c *connection) next() uint64 {
	c.rng ^= c.rng >> 12
	c.rng ^= c.rng << 25
	c.rng ^= c.rng >> 27
	return c.rng * 2685821657736338717
}

func cpuTime() time.Duration {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// report prints the measured window's figures as one line of key=value:
// requests_per_second, the latency percentiles p50_us p90_us p99_us p999_us
// max_us (of every request completed in the window), requests (in the
// window), total_requests (warm-up included: what a tracer attached before
// the load saw), errors, seconds, connections, and load_cpu (the load's own
// CPU time over the window, in cores: near 1 would mean the load, not the
// service, is the bottleneck). It exits 1 after the line when a connection
// failed.
func report(conns []*connection, cfg loadConfig, window, cpu time.Duration) {
	var all []time.Duration
	total, failed := 0, 0
	var firstErr error
	for _, c := range conns {
		all = append(all, c.latencies...)
		total += c.total
		if c.err != nil {
			failed++
			if firstErr == nil {
				firstErr = c.err
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	percentile := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))]) / 1e3
	}
	fmt.Printf("requests_per_second=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "+
		"requests=%d total_requests=%d errors=%d seconds=%.3f connections=%d load_cpu=%.3f\n",
		float64(len(all))/window.Seconds(), percentile(0.50), percentile(0.90), percentile(0.99),
		percentile(0.999), percentile(1), len(all), total, failed, window.Seconds(), cfg.connections,
		cpu.Seconds()/window.Seconds())
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "httpservice load: %d of %d connections failed; the first: %v\n", failed, len(conns), firstErr)
		os.Exit(1)
	}
}
