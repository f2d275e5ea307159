package server

import (
	"crypto/rand"
	"encoding/base32"
	"sync"
)

// requestIDs hands out unpredictable request ids cheaply: random bytes are
// read in blocks and encoded as 16 lower-case base32 characters.
type requestIDs struct {
	mu  sync.Mutex // guards buf and off
	buf [4096]byte
	off int
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (g *requestIDs) next() string {
	var b [10]byte
	g.mu.Lock()
	if g.off == 0 || g.off+len(b) > len(g.buf) {
		_, _ = rand.Read(g.buf[:])
		g.off = 0
	}
	copy(b[:], g.buf[g.off:])
	g.off += len(b)
	g.mu.Unlock()
	return idEncoding.EncodeToString(b[:])
}
