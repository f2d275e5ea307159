package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/airgate/airgate/internal/tokens"
)

func init() {
	register(command{
		name:    "token exchange",
		summary: "exchange an Entra token at airgate for a narrowed token (--subject-token T --scope S)",
		run:     runTokenExchange,
	})
	register(command{
		name:    "token inspect",
		summary: "show an airgate token's claims, scope and remaining lifetime (TOKEN; --gateway URL verifies)",
		run:     runTokenInspect,
	})
}

// readTokenArg returns a token given on the command line, "-" for standard
// input, or read from a file.
func readTokenArg(stdio Stdio, value, file, name string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("%w: give --%s or --%s-file, not both", errUsage, name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	case value == "-":
		b, err := io.ReadAll(io.LimitReader(stdio.In, 64<<10))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(value), nil
}

// gatewayURL returns the gateway's base URL from --gateway, or from the
// configuration's exchange issuer (public_url), or its listen address.
func gatewayURL(gateway, cfgPath string) (string, error) {
	switch {
	case gateway != "" && cfgPath != "":
		return "", fmt.Errorf("%w: give --gateway or --config, not both", errUsage)
	case gateway != "":
		u, err := url.Parse(gateway)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("%w: --gateway %q is not an http(s) URL", errUsage, gateway)
		}
		return strings.TrimSuffix(gateway, "/"), nil
	case cfgPath != "":
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return "", err
		}
		if iss := cfg.IssuerURL(); iss != "" {
			return iss, nil
		}
		return "http://" + cfg.Listen, nil
	}
	return "", fmt.Errorf("%w: --gateway URL or --config FILE is required", errUsage)
}

func httpClient(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}, nil
}

func runTokenExchange(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("token exchange", stdio)
	subject := fs.String("subject-token", "", `the Entra ID access token to exchange ("-" reads standard input)`)
	subjectFile := fs.String("subject-token-file", "", "read the subject token from this file")
	actor := fs.String("actor-token", "", "the acting agent's own Entra ID app token (an agent acting for the subject)")
	actorFile := fs.String("actor-token-file", "", "read the actor token from this file")
	scope := fs.String("scope", "", `what the token may do, e.g. "dag:team_a_daily:trigger dag:team_a_daily:read"`)
	audience := fs.String("audience", "", "the audience to ask for (default: the gateway's default)")
	ttl := fs.Duration("ttl", 0, "requested lifetime, e.g. 15m (default: as long as allowed)")
	gateway := fs.String("gateway", "", "the gateway's base URL, e.g. https://airgate.example.com")
	cfgPath := fs.String("config", "", "take the gateway URL from this configuration file instead")
	clientID := fs.String("client-id", "", "authenticate as this exchange client (with --client-secret-file)")
	clientSecretFile := fs.String("client-secret-file", "", "file holding the client secret")
	caFile := fs.String("ca-file", "", "PEM bundle of extra CAs to trust for the gateway")
	asJSON := fs.Bool("json", false, "print the whole token response as JSON")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	sub, err := readTokenArg(stdio, *subject, *subjectFile, "subject-token")
	if err != nil {
		return err
	}
	act, err := readTokenArg(stdio, *actor, *actorFile, "actor-token")
	if err != nil {
		return err
	}
	if sub == "" || strings.TrimSpace(*scope) == "" {
		return fmt.Errorf("%w: --subject-token and --scope are required", errUsage)
	}
	if (*clientID == "") != (*clientSecretFile == "") {
		return fmt.Errorf("%w: --client-id and --client-secret-file go together", errUsage)
	}
	base, err := gatewayURL(*gateway, *cfgPath)
	if err != nil {
		return err
	}
	form := url.Values{
		"grant_type":         {tokens.GrantTypeTokenExchange},
		"subject_token":      {sub},
		"subject_token_type": {tokens.TokenTypeAccessToken},
		"scope":              {strings.Join(strings.Fields(*scope), " ")},
	}
	if act != "" {
		form.Set("actor_token", act)
		form.Set("actor_token_type", tokens.TokenTypeAccessToken)
	}
	if *audience != "" {
		form.Set("audience", *audience)
	}
	if *ttl > 0 {
		form.Set("requested_ttl", fmt.Sprint(int64(ttl.Seconds())))
	}
	client, err := httpClient(*caFile)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if *clientID != "" {
		secret, err := os.ReadFile(*clientSecretFile)
		if err != nil {
			return err
		}
		req.SetBasicAuth(url.QueryEscape(*clientID), url.QueryEscape(strings.TrimRight(string(secret), "\r\n")))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg := fmt.Sprintf("exchange refused (%d %s): %s", resp.StatusCode, e.Error, e.Description)
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				msg += " (retry after " + ra + "s)"
			}
			return errors.New(msg)
		}
		return fmt.Errorf("exchange: the gateway answered %s", resp.Status)
	}
	var r struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.AccessToken == "" {
		return errors.New("exchange: the gateway's answer holds no access_token")
	}
	if *asJSON {
		_, err := stdio.Out.Write(body)
		return err
	}
	fmt.Fprintf(stdio.Err, "granted %q for %s\n", r.Scope, time.Duration(r.ExpiresIn)*time.Second)
	_, err = fmt.Fprintln(stdio.Out, r.AccessToken)
	return err
}

// inspection is what `token inspect --json` prints.
type inspection struct {
	Verified     bool           `json:"verified"`
	Verification string         `json:"verification"`
	Header       map[string]any `json:"header"`
	Claims       map[string]any `json:"claims"`
	Scope        []string       `json:"scope"`
	ExpiresAt    time.Time      `json:"expires_at"`
	RemainingSec int64          `json:"remaining_seconds"`
}

func runTokenInspect(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("token inspect", stdio)
	gateway := fs.String("gateway", "", "verify the signature against this gateway's JWKS and issuer")
	caFile := fs.String("ca-file", "", "PEM bundle of extra CAs to trust for the gateway")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf(`%w: want one TOKEN ("-" reads standard input)`, errUsage)
	}
	raw, err := readTokenArg(stdio, fs.Arg(0), "", "token")
	if err != nil {
		return err
	}
	c, kid, alg, typ, err := tokens.Decode(raw)
	if err != nil {
		return fmt.Errorf("not an airgate token: %w", err)
	}
	in := inspection{
		Header:       map[string]any{"alg": alg, "kid": kid, "typ": typ},
		Scope:        strings.Fields(c.Scope),
		ExpiresAt:    time.Unix(c.Expiry, 0).UTC(),
		Verification: "not verified: decoded without checking the signature, issuer or revocation (pass --gateway URL to check the signature)",
	}
	parts := strings.Split(raw, ".")
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(pb, &in.Claims)
	in.RemainingSec = int64(time.Until(in.ExpiresAt) / time.Second)
	var verr error
	if *gateway != "" {
		base, err := gatewayURL(*gateway, "")
		if err != nil {
			return err
		}
		client, err := httpClient(*caFile)
		if err != nil {
			return err
		}
		if verr = verifyAtGateway(ctx, client, base, raw, c); verr == nil {
			in.Verified = true
			in.Verification = "signature verified with key " + kid + " from " + base + "/.well-known/jwks.json; issuer matches; revocation is checked by the gateway only"
		} else {
			in.Verification = "NOT VALID: " + verr.Error()
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(in, "", "  ")
		if _, err := stdio.Out.Write(append(b, '\n')); err != nil {
			return err
		}
	} else {
		printInspection(stdio.Out, &in, c)
	}
	if verr != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("token does not verify: %w", verr)}
	}
	return nil
}

func printInspection(w io.Writer, in *inspection, c *tokens.Claims) {
	row := func(k, v string) { fmt.Fprintf(w, "%-10s %s\n", k+":", v) }
	row("verified", in.Verification)
	row("issuer", c.Issuer)
	row("audience", c.Audience)
	row("subject", describeParty(c.Subject, &c.Party))
	if a := c.Actor; a != nil {
		row("actor", describeParty(a.Subject, &a.Party))
	}
	if c.ClientID != "" {
		row("client", c.ClientID)
	}
	row("scope", strings.Join(in.Scope, " "))
	row("token id", c.ID)
	row("key", fmt.Sprint(in.Header["kid"], " (", in.Header["alg"], ", typ ", in.Header["typ"], ")"))
	row("issued", time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339))
	left := time.Duration(in.RemainingSec) * time.Second
	state := "in " + left.String()
	if left <= 0 {
		state = "expired " + (-left).String() + " ago"
	}
	row("expires", in.ExpiresAt.Format(time.RFC3339)+" ("+state+")")
}

// describeParty reads "<sub> (app <app id>)" or "<sub> (user <upn>,
// client app <app id>)".
func describeParty(sub string, p *tokens.Party) string {
	if p.Type == "user" {
		return sub + " (user " + p.UPN + ", client app " + p.AppID + ")"
	}
	return sub + " (app " + p.AppID + ")"
}

// verifyAtGateway checks raw's signature with the gateway's published
// key, its issuer against the gateway's discovery document, and its
// expiry.
func verifyAtGateway(ctx context.Context, client *http.Client, base, raw string, c *tokens.Claims) error {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, client, base+"/.well-known/oauth-authorization-server", &disc); err != nil {
		return fmt.Errorf("reading the gateway's metadata: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, client, base+"/.well-known/jwks.json", &set); err != nil {
		return fmt.Errorf("reading the gateway's keys: %w", err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return errors.New("not an ES256 compact JWS")
	}
	keys := set.Key(jws.Signatures[0].Protected.KeyID)
	if len(keys) == 0 {
		return errors.New("the gateway publishes no key with the token's kid")
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		return errors.New("the signature does not verify")
	}
	if c.Issuer != disc.Issuer {
		return fmt.Errorf("issued by %q, the gateway is %q", c.Issuer, disc.Issuer)
	}
	if !time.Now().Before(time.Unix(c.Expiry, 0)) {
		return errors.New("expired")
	}
	return nil
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
