package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// directTransport sends the proxy's body-less reads (GET, HEAD, OPTIONS)
// to a plain-HTTP Airflow on pooled HTTP/1.1 connections, in the calling
// goroutine: it writes the request, reads the answer's head, and hands
// back a body that returns the connection to the pool once read to its
// end. It spares the hot path what http.Transport spends on its two
// goroutines per connection and the hand-offs between them. Everything
// else (bodies, upgrades, other methods, https upstreams) goes to base.
//
// Parsing and serialising are net/http's own (Request.Write,
// ReadResponse). A pooled connection Airflow closed while idle fails its
// next request before any byte of an answer arrives; such a request, which
// is replayable, is sent once more on a new connection, as http.Transport
// does.
type directTransport struct {
	base    http.RoundTripper
	addr    string // host:port of the upstream
	dialer  *net.Dialer
	timeout time.Duration // for the answer's head; 0 = none

	mu      sync.Mutex
	idle    []*upConn
	maxIdle int
	closed  bool
}

// idleTimeout: a connection idle for longer is closed, not used.
const idleTimeout = 90 * time.Second

// upConn is one pooled connection.
type upConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func newDirectTransport(base http.RoundTripper, addr string, timeout time.Duration, maxIdle int) *directTransport {
	return &directTransport{
		base:    base,
		addr:    addr,
		dialer:  &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		timeout: timeout,
		maxIdle: max(maxIdle, 1),
	}
}

// direct reports whether r can go on a pooled connection in this
// goroutine: a replayable request without a body or an upgrade.
func direct(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if r.Body != nil && r.Body != http.NoBody || r.ContentLength != 0 || r.Close {
		return false
	}
	return r.Header["Upgrade"] == nil && !hasToken(r.Header["Connection"], "upgrade")
}

func (t *directTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !direct(r) {
		return t.base.RoundTrip(r)
	}
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, started, err := t.roundTrip(ctx, pc, r)
		if err == nil {
			return resp, nil
		}
		pc.c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if reused && !started && attempt == 0 && closedByPeer(err) {
			continue // Airflow closed the idle connection: once more, on a new one
		}
		return nil, err
	}
}

// roundTrip sends r on pc and reads the answer's head. started reports
// whether any of an answer arrived (a request that got none may be sent
// again). On error pc is the caller's to close.
func (t *directTransport) roundTrip(ctx context.Context, pc *upConn, r *http.Request) (resp *http.Response, started bool, err error) {
	// The caller going away ends the wait: an expired deadline wakes any
	// read or write on the connection.
	stop := context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(aLongTimeAgo) })
	if t.timeout > 0 {
		_ = pc.c.SetReadDeadline(time.Now().Add(t.timeout))
	}
	if err := r.Write(pc.bw); err != nil {
		stop()
		return nil, false, err
	}
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, false, err
	}
	for {
		if _, err := pc.br.Peek(1); err != nil {
			stop()
			return nil, false, err
		}
		resp, err = http.ReadResponse(pc.br, r)
		if err != nil {
			stop()
			return nil, true, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 1xx before the answer (103 Early Hints, a stray 100): skip.
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop()
		return nil, true, errors.New("upstream switched protocols on a request that asked for no upgrade")
	}
	if t.timeout > 0 {
		_ = pc.c.SetReadDeadline(time.Time{}) // the body may stream for long
	}
	resp.Body = &pooledBody{rc: resp.Body, t: t, pc: pc, stop: stop, keep: !resp.Close, eof: resp.Body == http.NoBody}
	return resp, true, nil
}

// closedByPeer reports whether err says the other end closed the
// connection (and not, say, that it timed out: that is not tried twice).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// aLongTimeAgo is a deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// get takes an idle connection that is still quiet (alive), or dials a
// new one. reused reports an idle one.
func (t *directTransport) get(ctx context.Context) (pc *upConn, reused bool, err error) {
	now := time.Now()
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		pc = t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if now.Sub(pc.idleAt) > idleTimeout || !pc.alive() {
			pc.c.Close()
			continue
		}
		return pc, true, nil
	}
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, 4<<10), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
}

// alive reports whether an idle connection may carry a request: nothing
// has arrived on it since its last answer. EOF (Airflow closed it: its
// servers close idle keep-alive connections after a few seconds) or data
// (bytes nobody asked for, which would be taken for the next answer) mean
// it may not. Every reuse is probed: one non-blocking peek at the socket.
func (pc *upConn) alive() bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	return socketQuiet(pc.c)
}

// put returns a connection whose answer was read to its end to the pool.
func (t *directTransport) put(pc *upConn) {
	if pc.br.Buffered() > 0 {
		// Bytes beyond the answer: the connection is out of step.
		pc.c.Close()
		return
	}
	pc.idleAt = time.Now()
	t.mu.Lock()
	if t.closed || len(t.idle) >= t.maxIdle {
		t.mu.Unlock()
		pc.c.Close()
		return
	}
	t.idle = append(t.idle, pc)
	t.mu.Unlock()
}

// CloseIdleConnections closes the pooled connections and, once the
// transport is retired, those returned later.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.closed = true
	t.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// pooledBody is an answer's body on a pooled connection: read to its end
// and closed, the connection goes back to the pool; closed early, it is
// closed too (what is left of the answer is not worth reading).
type pooledBody struct {
	rc   io.ReadCloser
	t    *directTransport
	pc   *upConn
	stop func() bool
	keep bool // Airflow did not ask to close the connection
	eof  bool
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("read on a closed body")
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	// stop reports false when the caller's context ended: its AfterFunc
	// may yet set an expired deadline, so the connection cannot be kept.
	if b.eof && b.keep && b.stop() && b.rc.Close() == nil {
		b.t.put(b.pc)
		return nil
	}
	// Not read to its end: closing the connection ends the answer (the
	// body's own Close would read the rest of it first).
	b.stop()
	return b.pc.c.Close()
}
