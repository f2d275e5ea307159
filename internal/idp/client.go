package idp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Client obtains tokens from a running emulator through real grants at
// its endpoints, as `airgate idp token` does. It needs the ready info of
// the demo tenant or of a server started in dev mode (for passwords and
// secrets). A Client is safe for concurrent use.
type Client struct {
	info ReadyInfo
	http *http.Client
}

// Token is a successful token response.
type Token struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// TokenError is an error response of the token or authorize endpoint.
type TokenError struct {
	Status      int    // HTTP status; 0 for errors returned to the redirect URI
	Code        string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

func (e *TokenError) Error() string {
	desc, _, _ := strings.Cut(e.Description, "\r\n")
	return fmt.Sprintf("idp: %s: %s", e.Code, desc)
}

// NewClient returns a client for the emulator described by info,
// trusting the CA in info.CAFile.
func NewClient(info ReadyInfo) (*Client, error) {
	pemBytes, err := readFileLimited(info.CAFile, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("idp: reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("idp: %s holds no PEM certificate", info.CAFile)
	}
	return &Client{info: info, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}, nil
}

func (c *Client) app(name string) (ReadyApp, error) {
	a, ok := c.info.Apps[name]
	if !ok {
		return a, fmt.Errorf("idp: no application %q (have %s)", name, strings.Join(c.info.AppNames(), ", "))
	}
	return a, nil
}

func (c *Client) tokenEndpoint() string {
	if c.info.TokenEndpoint != "" {
		return c.info.TokenEndpoint
	}
	return c.info.Authority + "/oauth2/v2.0/token"
}

// ClientCredentials gets an app-only token for the application named app
// with its client secret.
func (c *Client) ClientCredentials(ctx context.Context, appName, scope string) (*Token, error) {
	a, err := c.app(appName)
	if err != nil {
		return nil, err
	}
	if a.ClientSecret == "" {
		return nil, fmt.Errorf("idp: the ready file has no secret for %q (start the emulator with --dev)", appName)
	}
	return c.post(ctx, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {a.ClientID},
		"client_secret": {a.ClientSecret}, "scope": {scope},
	})
}

// Password gets a user token with the password grant, as the public
// client clientApp.
func (c *Client) Password(ctx context.Context, clientApp, userName, scope string) (*Token, error) {
	a, err := c.app(clientApp)
	if err != nil {
		return nil, err
	}
	u, ok := c.info.Users[userName]
	if !ok {
		return nil, fmt.Errorf("idp: no user %q (have %s)", userName, strings.Join(c.info.UserNames(), ", "))
	}
	if u.Password == "" {
		return nil, fmt.Errorf("idp: the ready file has no password for %q (start the emulator with --dev)", userName)
	}
	return c.post(ctx, url.Values{
		"grant_type": {"password"}, "client_id": {a.ClientID}, "username": {u.UPN},
		"password": {u.Password}, "scope": {scope + " openid profile offline_access"},
	})
}

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	requestRE    = regexp.MustCompile(`name="request" value="([^"]*)"`)
)

// AuthCode signs userName in through the authorize endpoint and the
// sign-in page (with the MFA switch on when mfa), takes the code from the
// redirect without following it and redeems it with PKCE (S256) as the
// confidential client clientApp.
func (c *Client) AuthCode(ctx context.Context, clientApp, userName string, mfa bool, scope string) (*Token, error) {
	a, err := c.app(clientApp)
	if err != nil {
		return nil, err
	}
	if _, ok := c.info.Users[userName]; !ok {
		return nil, fmt.Errorf("idp: no user %q (have %s)", userName, strings.Join(c.info.UserNames(), ", "))
	}
	if len(a.RedirectURIs) == 0 {
		return nil, fmt.Errorf("idp: application %q has no redirect URI", clientApp)
	}
	redirect := a.RedirectURIs[0]
	verifier := randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	state, nonce := randomToken(12), randomToken(12)
	fullScope := scope + " openid profile offline_access"
	authz := c.info.AuthorizeEndpoint
	if authz == "" {
		authz = c.info.Authority + "/oauth2/v2.0/authorize"
	}
	q := url.Values{
		"client_id": {a.ClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {fullScope}, "state": {state}, "nonce": {nonce}, "response_mode": {"query"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	page, err := c.do(ctx, http.MethodGet, authz+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if page.status == http.StatusFound {
		return nil, redirectError(page.location)
	}
	if page.status != http.StatusOK {
		return nil, fmt.Errorf("idp: authorize: HTTP %d", page.status)
	}
	action := formActionRE.FindStringSubmatch(page.body)
	reqID := requestRE.FindStringSubmatch(page.body)
	if action == nil || reqID == nil {
		return nil, errors.New("idp: authorize: no sign-in form in the page")
	}
	target, err := url.Parse(authz)
	if err != nil {
		return nil, err
	}
	target, err = target.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return nil, err
	}
	form := url.Values{"request": {html.UnescapeString(reqID[1])}, "user": {userName}}
	if mfa {
		form.Set("mfa", "on")
	}
	resp, err := c.do(ctx, http.MethodPost, target.String(), form)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusFound {
		return nil, fmt.Errorf("idp: sign-in: HTTP %d", resp.status)
	}
	loc, err := url.Parse(resp.location)
	if err != nil {
		return nil, err
	}
	if e := redirectError(resp.location); e != nil {
		return nil, e
	}
	if loc.Query().Get("state") != state {
		return nil, errors.New("idp: sign-in: state mismatch")
	}
	code := loc.Query().Get("code")
	if code == "" {
		return nil, errors.New("idp: sign-in: no code in the redirect")
	}
	redeem := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {a.ClientID}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {verifier}, "scope": {fullScope},
	}
	if a.ClientSecret != "" {
		redeem.Set("client_secret", a.ClientSecret)
	}
	return c.post(ctx, redeem)
}

// redirectError reads an OAuth error from a redirect Location; nil when
// there is none.
func redirectError(location string) error {
	u, err := url.Parse(location)
	if err != nil {
		return fmt.Errorf("idp: bad redirect: %w", err)
	}
	q := u.Query()
	if q.Get("error") == "" {
		return nil
	}
	return &TokenError{Code: q.Get("error"), Description: q.Get("error_description")}
}

type response struct {
	status   int
	body     string
	location string
}

func (c *Client) do(ctx context.Context, method, target string, form url.Values) (*response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	return &response{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location")}, nil
}

func (c *Client) post(ctx context.Context, form url.Values) (*Token, error) {
	resp, err := c.do(ctx, http.MethodPost, c.tokenEndpoint(), form)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		te := &TokenError{Status: resp.status}
		if err := json.Unmarshal([]byte(resp.body), te); err != nil || te.Code == "" {
			return nil, fmt.Errorf("idp: token endpoint: HTTP %d", resp.status)
		}
		return nil, te
	}
	var t Token
	if err := json.Unmarshal([]byte(resp.body), &t); err != nil {
		return nil, fmt.Errorf("idp: token endpoint: %w", err)
	}
	if t.AccessToken == "" {
		return nil, errors.New("idp: token endpoint: no access_token")
	}
	return &t, nil
}
