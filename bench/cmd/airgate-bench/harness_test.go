package main

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := []byte("Running 10s test @ http://127.0.0.1:1/api/v1/dags/x\n  1 threads and 32 connections\n" +
		"BENCH requests=123456 duration_us=10000000 errors=2 non2xx=3 p50_us=250 p90_us=400 p99_us=900 max_us=12000\n")
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 123456, DurationUS: 10000000, Errors: 2, Non2xx: 3, P50: 250, P90: 400, P99: 900, Max: 12000}
	if got != want {
		t.Errorf("parseWrk = %+v, want %+v", got, want)
	}
	if r := got.rps(); r < 12345.5 || r > 12345.7 {
		t.Errorf("rps = %v, want 12345.6", r)
	}
	if _, err := parseWrk([]byte("unable to connect\n")); err == nil {
		t.Error("parseWrk accepted output without a result")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestProcReadings(t *testing.T) {
	end := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(end) { // burn a little CPU
	}
	cpu, err := procCPU(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Errorf("procCPU(self) = %v, %v; want a positive duration", cpu, err)
	}
	rss, err := procStatus(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Errorf("procStatus(self, VmRSS) = %v, %v; want a positive size", rss, err)
	}
}

func TestBenchPolicyHasADozenRoles(t *testing.T) {
	p := benchPolicy()
	roles := strings.Count(p, "-operator:\n") + strings.Count(p, "admin-with-mfa:\n")
	if roles != 12 || strings.Count(p, "when:") != 1 {
		t.Errorf("bench policy has %d roles and %d conditions, want 12 and 1:\n%s", roles, strings.Count(p, "when:"), p)
	}
}

func TestRelayCopiesBothWays(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		_, _ = c.Write(append([]byte("echo "), b...))
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { relay(ctx, server, up.Addr().String()); close(done) }()
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "echo hello" {
		t.Errorf("relayed answer %q, want %q", got, "echo hello")
	}
	// The upstream closed its end: the relay closes the client's.
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("relay still running after the upstream closed")
	}
	if _, err := client.Read(got); err == nil {
		t.Error("client connection still open after the relay ended")
	}
}

func TestParseOptionsNeedsSomethingToMeasure(t *testing.T) {
	if _, err := parseOptions([]string{"-airgate", "/bin/true", "-latency=false", "-throughput=false"}); err == nil ||
		!strings.Contains(err.Error(), "nothing to measure") {
		t.Errorf("parseOptions(-latency=false -throughput=false) = %v, want an error saying nothing is left to measure", err)
	}
	o, err := parseOptions([]string{"-airgate", "/bin/true", "-throughput=false"})
	if err != nil || o.throughput || !o.latency {
		t.Errorf("parseOptions(-throughput=false) = %+v, %v; want latency rounds alone", o, err)
	}
}
