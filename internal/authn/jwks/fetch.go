package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxBodyBytes bounds a JWKS response body; a larger body fails the fetch.
const MaxBodyBytes = 1 << 20

// minRSABits is the smallest RSA modulus accepted in a key set.
const minRSABits = 2048

// fetchKeys retrieves and parses the key set at url. ttl is the freshness
// lifetime the response advertised (Cache-Control max-age minus Age), or a
// negative duration when it advertised none.
func fetchKeys(ctx context.Context, client *http.Client, url string) (keys map[string]*Key, ttl time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, 0, fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading response: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, 0, fmt.Errorf("response larger than %d bytes", MaxBodyBytes)
	}
	keys, err = parseKeySet(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, freshness(resp.Header), nil
}

// errNoKeys fails a fetch whose set holds no usable key: an empty set never
// replaces cached keys.
var errNoKeys = errors.New("key set holds no usable signing key")

// parseKeySet parses a JWK Set, keeping RSA and EC public signing keys with
// a kid. Keys it cannot use are skipped, as RFC 7517 §5 asks; of two keys
// with the same kid the first wins.
func parseKeySet(body []byte) (map[string]*Key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decoding key set: %w", err)
	}
	keys := make(map[string]*Key, len(set.Keys))
	for _, raw := range set.Keys {
		k, ok := parseKey(raw)
		if !ok {
			continue
		}
		if _, dup := keys[k.KeyID]; dup {
			continue
		}
		keys[k.KeyID] = k
	}
	if len(keys) == 0 {
		return nil, errNoKeys
	}
	return keys, nil
}

func parseKey(raw json.RawMessage) (*Key, bool) {
	// Members go-jose does not keep: Entra's issuer, and the private
	// parameter d, which a published key must never carry.
	var meta struct {
		Kid    string          `json:"kid"`
		Use    string          `json:"use"`
		Issuer string          `json:"issuer"`
		D      json.RawMessage `json:"d"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, false
	}
	if meta.Kid == "" || (meta.Use != "" && meta.Use != "sig") || meta.D != nil {
		return nil, false
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil || !jwk.Valid() {
		return nil, false
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return nil, false
		}
	case *ecdsa.PublicKey:
	default:
		return nil, false
	}
	return &Key{KeyID: meta.Kid, Algorithm: jwk.Algorithm, Issuer: meta.Issuer, Public: jwk.Key}, true
}

// freshness reads the freshness lifetime from Cache-Control (max-age, less
// Age); no-store and no-cache mean zero; it is negative when the response
// says nothing.
func freshness(h http.Header) time.Duration {
	ttl := time.Duration(-1)
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return 0
			case strings.HasPrefix(d, "max-age="):
				n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if n > int64(365*24*time.Hour/time.Second) {
					n = int64(365 * 24 * time.Hour / time.Second)
				}
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	if ttl > 0 {
		if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
			ttl -= time.Duration(min(age, int64(ttl/time.Second))) * time.Second
		}
	}
	return ttl
}
