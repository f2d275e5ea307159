package rotation

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/airgate/airgate/internal/secrets"
)

// Credential kinds recorded in a version's Meta["kind"].
const (
	KindClientSecret = "client-secret"
	KindCertificate  = "certificate"
)

// GraphScope asks Entra for an app-only Microsoft Graph token.
const GraphScope = "https://graph.microsoft.com/.default"

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ClientAuth returns the form parameters that authenticate airgate as
// clientID to Entra's token endpoint with credential v: client_secret for a
// client secret, or a fresh client_assertion (PS256, x5t#S256, as MSAL
// sends) for a certificate. tokenURL is the assertion's audience. The
// returned values hold a secret or a signed assertion: MUST NOT be logged.
func ClientAuth(v *secrets.Version, clientID, tokenURL string, now time.Time) (url.Values, error) {
	if v == nil || v.Value == nil {
		return nil, errors.New("rotation: no client credential")
	}
	f := url.Values{"client_id": {clientID}}
	if v.Meta["kind"] != KindCertificate {
		f.Set("client_secret", string(v.Value))
		return f, nil
	}
	key, cert, err := ParseCertificateCredential(v.Value)
	if err != nil {
		return nil, err
	}
	a, err := clientAssertion(key, cert, clientID, tokenURL, now)
	if err != nil {
		return nil, err
	}
	f.Set("client_assertion_type", assertionType)
	f.Set("client_assertion", a)
	return f, nil
}

func clientAssertion(key *rsa.PrivateKey, cert *x509.Certificate, clientID, tokenURL string, now time.Time) (string, error) {
	sum := sha256.Sum256(cert.Raw)
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t#S256", base64.StdEncoding.EncodeToString(sum[:]))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.PS256, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("rotation: client assertion: %w", err)
	}
	claims := josejwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: josejwt.Audience{tokenURL}, ID: newGUID(),
		NotBefore: josejwt.NewNumericDate(now), IssuedAt: josejwt.NewNumericDate(now),
		Expiry: josejwt.NewNumericDate(now.Add(10 * time.Minute)),
	}
	return josejwt.Signed(signer).Claims(claims).Serialize()
}

// NewCertificateCredential generates an RSA 2048 key and a self-signed
// certificate valid from now until end, and returns them PEM-encoded (the
// stored secret value) with the certificate.
func NewCertificateCredential(commonName string, now, end time.Time) ([]byte, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("rotation: generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: now.Add(-5 * time.Minute).UTC(), NotAfter: end.UTC(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("rotation: creating a certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	return out, cert, nil
}

// ParseCertificateCredential reads what NewCertificateCredential returned.
func ParseCertificateCredential(b []byte) (*rsa.PrivateKey, *x509.Certificate, error) {
	var key *rsa.PrivateKey
	var cert *x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("rotation: certificate credential: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, errors.New("rotation: certificate credential: not an RSA key")
			}
			key = rk
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("rotation: certificate credential: %w", err)
			}
			cert = c
		}
	}
	if key == nil || cert == nil {
		return nil, nil, errors.New("rotation: certificate credential: want a PRIVATE KEY and a CERTIFICATE block")
	}
	return key, cert, nil
}

// Thumbprint is a certificate's SHA-256 thumbprint in hex, safe to log.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// TokenError is an error answer of Entra's token endpoint.
type TokenError struct {
	Status      int
	Code        string // RFC 6749 error, e.g. invalid_client
	Description string // Entra's error_description (AADSTS code first)
}

func (e *TokenError) Error() string {
	d := e.Description
	if i := strings.IndexAny(d, "\r\n"); i >= 0 {
		d = d[:i]
	}
	if len(d) > 200 {
		d = d[:200]
	}
	return fmt.Sprintf("token endpoint answered %d %s: %s", e.Status, e.Code, d)
}

// maxBody bounds every response body read from Entra, Graph or Airflow.
const maxBody = 1 << 20

// RequestToken runs a client-credentials grant at tokenURL with auth (from
// ClientAuth) for scope and returns the access token and its lifetime.
func RequestToken(ctx context.Context, hc *http.Client, tokenURL, scope string, auth url.Values) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	for k, v := range auth {
		form[k] = v
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("rotation: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", 0, fmt.Errorf("rotation: token request: %w", err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", 0, &TokenError{Status: resp.StatusCode, Code: out.Error, Description: out.Description}
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
