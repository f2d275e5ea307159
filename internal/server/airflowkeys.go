package server

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/go-jose/go-jose/v4"

	"github.com/airgate/airgate/internal/config"
)

// loadAirflowKeys reads Airflow 3's own public keys, which airgate
// publishes beside its own: with [api_auth] trusted_jwks_url pointing at
// airgate, Airflow validates its own task and UI tokens against airgate's
// key set only (AIRFLOW.md §12).
func loadAirflowKeys(cfg *config.Config) ([]jose.JSONWebKey, error) {
	var out []jose.JSONWebKey
	for i, k := range cfg.Upstream.AirflowKeys {
		field := fmt.Sprintf("upstream.airflow_keys[%d]", i)
		data, err := os.ReadFile(cfg.Path(k.File))
		if err != nil {
			return nil, fmt.Errorf("server: %s.file: %w", field, err)
		}
		pub, err := publicKeyFromPEM(data)
		if err != nil {
			return nil, fmt.Errorf("server: %s.file %s: %w", field, k.File, err)
		}
		jwk := jose.JSONWebKey{Key: pub, KeyID: k.KID, Use: "sig"}
		if !jwk.Valid() {
			return nil, fmt.Errorf("server: %s.file %s: not a usable signing key", field, k.File)
		}
		out = append(out, jwk)
	}
	return out, nil
}

// publicKeyFromPEM returns the public key of a PEM public key, certificate
// or private key; only the public half is ever kept.
func publicKeyFromPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(crypto.Signer); ok {
			return s.Public(), nil
		}
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}
