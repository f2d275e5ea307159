package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/airgate/airgate/internal/identity"
)

// header is the part of the JOSE header Verify reads.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	// Nonce is present (even as null) only on Microsoft Graph tokens.
	Nonce json.RawMessage `json:"nonce"`
	// Crit names extensions the recipient must understand; we understand
	// none.
	Crit json.RawMessage `json:"crit"`
}

// claims are the payload members of Entra v1 and v2 access tokens that
// airgate reads. A member of the wrong JSON type makes the token malformed.
type claims struct {
	Iss string       `json:"iss"`
	Aud audience     `json:"aud"`
	Exp *numericDate `json:"exp"`
	Nbf *numericDate `json:"nbf"`
	Iat *numericDate `json:"iat"`
	Ver string       `json:"ver"`
	Tid string       `json:"tid"`
	Oid string       `json:"oid"`
	Sub string       `json:"sub"`

	Idtyp string   `json:"idtyp"`
	Scp   string   `json:"scp"`
	Roles []string `json:"roles"`

	Groups     []string                   `json:"groups"`
	ClaimNames map[string]json.RawMessage `json:"_claim_names"`
	HasGroups  json.RawMessage            `json:"hasgroups"`

	Amr []string `json:"amr"`
	Acr string   `json:"acr"`

	Azp   string `json:"azp"`   // v2
	Appid string `json:"appid"` // v1

	PreferredUsername string `json:"preferred_username"`
	Upn               string `json:"upn"`
	UniqueName        string `json:"unique_name"`
	Name              string `json:"name"`
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional.
type numericDate struct{ time.Time }

var errBadDate = errors.New("not a NumericDate")

// UnmarshalJSON accepts a non-negative finite JSON number.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	// Bound to year ~36812 so time arithmetic cannot overflow.
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return errBadDate
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// audience is aud: a string, or an array of strings.
type audience []string

var errBadAudience = errors.New("aud is neither a string nor an array of strings")

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errBadAudience
	}
	*a = ss
	return nil
}

// groupsOverage reports whether Entra left the groups out of the token:
// _claim_names names groups (access and ID tokens past 200 groups) or
// hasgroups is true (implicit flow).
func (c *claims) groupsOverage() bool {
	if _, ok := c.ClaimNames["groups"]; ok {
		return true
	}
	h := string(bytes.TrimSpace(c.HasGroups))
	return h == "true" || h == `"true"`
}

// isApp reports whether the token is app-only (client credentials, managed
// identity): no user is present. Following ENTRA.md §2.1: idtyp, when the
// API requested it, is authoritative ("app" or "user"); without it, a
// token is app-only when it has no scp (delegated tokens always carry scp)
// and no user sign-in name (upn, unique_name, preferred_username). sub ==
// oid is not used: Entra does not document it.
func (c *claims) isApp() bool {
	switch c.Idtyp {
	case "app":
		return true
	case "user":
		return false
	}
	return c.Scp == "" && c.Upn == "" && c.UniqueName == "" && c.PreferredUsername == ""
}

// principal builds the principal of verified claims; aud is the matched
// audience and fp the token's fingerprint.
func (c *claims) principal(aud, fp string) *identity.Principal {
	// Principals live in the verified-token cache, many for one user or
	// app (each token, each refresh): their strings are interned, so the
	// tenant, the user, the groups and the rest are held once, not once a
	// token.
	p := &identity.Principal{
		Kind:             identity.User,
		TenantID:         intern(c.Tid),
		ObjectID:         intern(c.Oid),
		Subject:          intern(c.Sub),
		DisplayName:      intern(c.Name),
		Groups:           internAll(c.Groups),
		GroupsOverage:    c.groupsOverage(),
		AppRoles:         internAll(c.Roles),
		AMR:              internAll(c.Amr),
		ACR:              intern(c.Acr),
		Issuer:           intern(c.Iss),
		Audience:         aud,
		TokenVersion:     intern(c.Ver),
		Expiry:           c.Exp.Time,
		TokenFingerprint: fp,
	}
	if c.Iat != nil {
		p.IssuedAt = c.Iat.Time
	}
	if c.Scp != "" {
		p.Scopes = internAll(strings.Fields(c.Scp))
	}
	if c.Ver == Version2 {
		p.AppID = intern(firstNonEmpty(c.Azp, c.Appid))
	} else {
		p.AppID = intern(firstNonEmpty(c.Appid, c.Azp))
	}
	if c.isApp() {
		p.Kind = identity.App
		return p
	}
	if c.Ver == Version2 {
		p.UPN = intern(firstNonEmpty(c.PreferredUsername, c.Upn, c.UniqueName))
	} else {
		p.UPN = intern(firstNonEmpty(c.Upn, c.UniqueName, c.PreferredUsername))
	}
	return p
}

// intern returns the canonical copy of s (unique.Make): equal strings
// share their bytes, which the garbage collector frees once no principal
// holds them.
func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// internAll interns ss's elements in place and returns ss.
func internAll(ss []string) []string {
	for i, s := range ss {
		ss[i] = intern(s)
	}
	return ss
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
