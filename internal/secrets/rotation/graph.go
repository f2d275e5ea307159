package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GraphError is an error answer of Microsoft Graph.
type GraphError struct {
	Status  int
	Code    string
	Message string
}

func (e *GraphError) Error() string {
	m := e.Message
	if len(m) > 200 {
		m = m[:200]
	}
	return fmt.Sprintf("graph answered %d %s: %s", e.Status, e.Code, m)
}

// passwordCredential is Graph's passwordCredential resource.
type passwordCredential struct {
	KeyID         string     `json:"keyId"`
	DisplayName   *string    `json:"displayName"`
	Hint          string     `json:"hint"`
	SecretText    string     `json:"secretText,omitempty"`
	StartDateTime *time.Time `json:"startDateTime"`
	EndDateTime   *time.Time `json:"endDateTime"`
}

func (p passwordCredential) name() string {
	if p.DisplayName == nil {
		return ""
	}
	return *p.DisplayName
}

// keyCredential is Graph's keyCredential resource (as read: no key).
type keyCredential struct {
	KeyID         string     `json:"keyId"`
	DisplayName   *string    `json:"displayName"`
	EndDateTime   *time.Time `json:"endDateTime"`
	StartDateTime *time.Time `json:"startDateTime"`
}

type application struct {
	ID                  string               `json:"id"`
	AppID               string               `json:"appId"`
	PasswordCredentials []passwordCredential `json:"passwordCredentials"`
	KeyCredentials      []keyCredential      `json:"keyCredentials"`
}

// graph calls the application endpoints of Microsoft Graph with an
// app-only token.
type graph struct {
	base    string // e.g. https://graph.microsoft.com/v1.0
	appPath string // /applications(appId='...') or /applications/{id}
	hc      *http.Client
	token   func(ctx context.Context) (string, error)
}

func newGraph(base, clientID, objectID string, hc *http.Client, token func(context.Context) (string, error)) *graph {
	p := "/applications(appId='" + url.PathEscape(clientID) + "')"
	if objectID != "" {
		p = "/applications/" + url.PathEscape(objectID)
	}
	return &graph{base: strings.TrimSuffix(base, "/"), appPath: p, hc: hc, token: token}
}

func (g *graph) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	tok, err := g.token(ctx)
	if err != nil {
		return fmt.Errorf("graph token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+g.appPath+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return fmt.Errorf("graph %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("graph %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return &GraphError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("graph %s %s: decoding: %w", method, path, err)
		}
	}
	return nil
}

func (g *graph) application(ctx context.Context) (*application, error) {
	var a application
	if err := g.do(ctx, http.MethodGet, "", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func (g *graph) addPassword(ctx context.Context, displayName string, end time.Time) (*passwordCredential, error) {
	body := map[string]any{"passwordCredential": map[string]any{"displayName": displayName, "endDateTime": end.UTC().Format(time.RFC3339)}}
	var pc passwordCredential
	if err := g.do(ctx, http.MethodPost, "/addPassword", body, &pc); err != nil {
		return nil, err
	}
	if pc.KeyID == "" || pc.SecretText == "" {
		return nil, fmt.Errorf("graph addPassword: no keyId or secretText in the answer")
	}
	return &pc, nil
}

// removePassword removes a secret; one already gone is not an error.
func (g *graph) removePassword(ctx context.Context, keyID string) error {
	err := g.do(ctx, http.MethodPost, "/removePassword", map[string]string{"keyId": keyID}, nil)
	if ge, ok := err.(*GraphError); ok && ge.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// setKeys PATCHes keyCredentials: keep lists existing certificates by
// keyId, add is a new one (nil for none).
func (g *graph) setKeys(ctx context.Context, keep []string, add map[string]any) error {
	creds := []map[string]any{}
	for _, id := range keep {
		creds = append(creds, map[string]any{"keyId": id})
	}
	if add != nil {
		creds = append(creds, add)
	}
	return g.do(ctx, http.MethodPatch, "", map[string]any{"keyCredentials": creds}, nil)
}
