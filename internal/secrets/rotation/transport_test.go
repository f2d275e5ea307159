package rotation

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// httpClientWrapper refuses token requests whose form matches refuse, as
// Entra does before a new credential has propagated.
type httpClientWrapper struct {
	base   *http.Client
	refuse func(form string) bool
	mu     sync.Mutex
}

func (w *httpClientWrapper) client() *http.Client {
	return &http.Client{Transport: w, Timeout: w.base.Timeout}
}

func (w *httpClientWrapper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		w.mu.Lock()
		refused := w.refuse(string(b))
		w.mu.Unlock()
		if refused {
			rec := httptest.NewRecorder()
			rec.WriteHeader(http.StatusUnauthorized)
			_, _ = rec.WriteString(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return rec.Result(), nil
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	return w.base.Transport.RoundTrip(r)
}
