package authn

import (
	"context"
	"testing"
)

// BenchmarkVerify measures Verify on RS256 Entra v2 tokens with keys
// already cached: cold is a full verification (parsing, claim checks,
// RSA-2048 signature) of a token not in the verified-token cache; cached
// is a cache hit.
func BenchmarkVerify(b *testing.B) {
	clk := newClock()
	rk := newRSAKey(b, "rsa-1", 0)
	f := newFakeIdP(b, true, rk)
	ctx := context.Background()

	b.Run("cold", func(b *testing.B) {
		// Signing is slower than verifying, so a pool of distinct tokens
		// is reused with the verified-token cache disabled: every
		// iteration does the whole verification.
		opts := f.options(clk)
		opts.CacheSize = -1
		v := newVerifier(b, opts)
		tokens := make([]string, 64)
		for i := range tokens {
			tokens[i] = sign(b, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "uti", i))
		}
		if _, err := v.Verify(ctx, tokens[0]); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			if _, err := v.Verify(ctx, tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	b.Run("cached", func(b *testing.B) {
		v := newVerifier(b, f.options(clk))
		raw := sign(b, rk, nil, v2UserClaims(f, tenantA, clk.Now()))
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
