package session

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cookie budget. Browsers keep at most about 4096 bytes per cookie (name,
// value and attributes); proxies in front of airgate commonly refuse
// request header lines over 8 KiB. A sealed value is split into chunks of
// chunkSize bytes, at most maxChunks of them.
const (
	chunkSize = 3800
	maxChunks = 4
)

// chunkedCookie writes a value into the cookies <name>_0, <name>_1 ...
// The first chunk starts with the number of chunks ("2~..."), so a reader
// never mixes in a stale chunk left from a larger value. A zero maxAge
// makes browser-session cookies (gone when the browser closes).
type chunkedCookie struct {
	name   string
	secure bool
	maxAge time.Duration
}

func (c chunkedCookie) chunkName(i int) string { return c.name + "_" + strconv.Itoa(i) }

func (c chunkedCookie) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// write sets the chunks of value and deletes chunks of an older, larger
// value that r still carries.
func (c chunkedCookie) write(w http.ResponseWriter, r *http.Request, value string) error {
	n := (len(value) + chunkSize - 1) / chunkSize
	if n == 0 {
		n = 1
	}
	if n > maxChunks {
		return ErrTooLarge
	}
	age := 0
	if c.maxAge > 0 {
		age = int(c.maxAge / time.Second)
	}
	for i := 0; i < n; i++ {
		piece := value[i*chunkSize : min((i+1)*chunkSize, len(value))]
		if i == 0 {
			piece = strconv.Itoa(n) + "~" + piece
		}
		http.SetCookie(w, c.cookie(c.chunkName(i), piece, age))
	}
	if r != nil {
		for i := n; i < maxChunks; i++ {
			if _, err := r.Cookie(c.chunkName(i)); err == nil {
				http.SetCookie(w, c.cookie(c.chunkName(i), "", -1))
			}
		}
	}
	return nil
}

// read reassembles the value; ErrNoSession when there is no first chunk,
// ErrInvalid when the chunks do not fit together.
func (c chunkedCookie) read(r *http.Request) (string, error) {
	first, err := r.Cookie(c.chunkName(0))
	if err != nil {
		return "", ErrNoSession
	}
	count, rest, ok := strings.Cut(first.Value, "~")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 || n > maxChunks || len(count) > 1 {
		return "", ErrInvalid
	}
	if n == 1 {
		return rest, nil
	}
	var b strings.Builder
	b.Grow(n * chunkSize)
	b.WriteString(rest)
	for i := 1; i < n; i++ {
		ck, err := r.Cookie(c.chunkName(i))
		if err != nil {
			return "", ErrInvalid
		}
		b.WriteString(ck.Value)
	}
	return b.String(), nil
}

// present reports whether r carries the first chunk.
func (c chunkedCookie) present(r *http.Request) bool {
	_, err := r.Cookie(c.chunkName(0))
	return err == nil
}

// clear deletes every chunk r carries (and always the first).
func (c chunkedCookie) clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.cookie(c.chunkName(0), "", -1))
	for i := 1; i < maxChunks; i++ {
		if _, err := r.Cookie(c.chunkName(i)); err == nil {
			http.SetCookie(w, c.cookie(c.chunkName(i), "", -1))
		}
	}
}
