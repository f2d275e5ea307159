package server

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/go-jose/go-jose/v4"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/secrets"
)

// keySource adapts the keyring to tokens.KeySource.
type keySource struct{ ring *secrets.Keyring }

func (k keySource) SigningKey() (string, string, crypto.Signer, error) {
	key, err := k.ring.Current(secrets.UseToken)
	if err != nil {
		return "", "", nil, err
	}
	return key.ID, key.Alg, key.Signer(), nil
}

// cryptoHashNone is the crypto.SignerOpts for Ed25519's pure signatures.
type cryptoHashNone struct{}

func (cryptoHashNone) HashFunc() crypto.Hash { return 0 }

func auditKeySet(ring *secrets.Keyring) audit.KeySet {
	ks := audit.KeySet{}
	for _, k := range ring.Published(secrets.UseAudit) {
		if pub, ok := k.Public().(ed25519.PublicKey); ok {
			ks[k.ID] = pub
		}
	}
	return ks
}

// jwks publishes airgate's token keys: the key set Airflow 3 trusts
// ([api_auth] trusted_jwks_url) and exchanged-token verifiers use. Keys
// appear here before they sign and stay until their tokens expired.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	var set jose.JSONWebKeySet
	for _, k := range s.keys.Published(secrets.UseToken) {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	}
	set.Keys = append(set.Keys, s.rt.Load().airflowKeys...)
	b, err := json.Marshal(set)
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error", "", nil, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}
