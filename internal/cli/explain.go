package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/server"
)

func init() {
	register(command{
		name:    "explain",
		summary: "explain the decision for METHOD PATH and a principal (a token, or --user/--groups/--app-roles)",
		run:     runExplain,
	})
}

type explainFlags struct {
	config, policy, token               string
	user, app, tenant                   string
	groups, nestedGroups, appRoles, amr string
	mfa, asJSON                         bool
	sourceIP, at                        string
}

func runExplain(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("explain", stdio)
	var f explainFlags
	fs.StringVar(&f.config, "config", "", "airgate config: verify --token and read memberships exactly as the gateway does")
	fs.StringVar(&f.policy, "policy", "", "policy file, when no --config is given")
	fs.StringVar(&f.token, "token", "", "an Entra access token (needs --config)")
	fs.StringVar(&f.user, "user", "", "explain for a user with this UPN")
	fs.StringVar(&f.app, "app", "", "explain for an application with this app id")
	fs.StringVar(&f.tenant, "tenant", "", "the principal's tenant id")
	fs.StringVar(&f.groups, "groups", "", "comma-separated groups the principal is a DIRECT member of (object ids, or mapping names from the policy)")
	fs.StringVar(&f.nestedGroups, "nested-groups", "", "comma-separated groups the principal belongs to only through nesting")
	fs.StringVar(&f.appRoles, "app-roles", "", "comma-separated app role values in the token")
	fs.StringVar(&f.amr, "amr", "pwd", "comma-separated authentication methods (amr)")
	fs.BoolVar(&f.mfa, "mfa", false, "the principal signed in with multi-factor authentication (adds mfa to amr)")
	fs.StringVar(&f.sourceIP, "source-ip", "", "the client's IP address")
	fs.StringVar(&f.at, "time", "", "when the request happens (RFC 3339; default now)")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate explain (--config FILE | --policy FILE) (--token T | --user UPN | --app APPID) [--groups G,...] [--nested-groups G,...] [--app-roles R,...] [--mfa] METHOD PATH")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: want METHOD PATH after the flags, got %d arguments", errUsage, fs.NArg())
	}
	method, target := fs.Arg(0), fs.Arg(1)
	if !isToken(method) || !strings.HasPrefix(target, "/") {
		return fmt.Errorf("%w: %q %q is not METHOD PATH", errUsage, method, target)
	}
	switch {
	case f.config == "" && f.policy == "":
		return fmt.Errorf("%w: give --config or --policy", errUsage)
	case f.config != "" && f.policy != "":
		return fmt.Errorf("%w: give --config or --policy, not both", errUsage)
	case f.token != "" && f.config == "":
		return fmt.Errorf("%w: --token needs --config (to verify it as the gateway does)", errUsage)
	case f.token != "" && (f.user != "" || f.app != ""):
		return fmt.Errorf("%w: give --token or --user/--app, not both", errUsage)
	case f.user != "" && f.app != "":
		return fmt.Errorf("%w: give --user or --app, not both", errUsage)
	}
	req := server.ExplainRequest{Method: method, Target: target, Token: f.token, Time: time.Now()}
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return fmt.Errorf("%w: --time %q is not RFC 3339", errUsage, f.at)
		}
		req.Time = t
	}
	if f.sourceIP != "" {
		a, err := netip.ParseAddr(f.sourceIP)
		if err != nil {
			return fmt.Errorf("%w: --source-ip %q is not an IP address", errUsage, f.sourceIP)
		}
		req.SourceIP = a
	}

	var pol *policy.Policy
	var err error
	if f.config != "" {
		cfg, err := loadConfig(f.config)
		if err != nil {
			return err
		}
		if pol, err = authz.LoadPolicy(cfg.Path(cfg.Policy.File)); err != nil {
			return err
		}
		if f.token == "" {
			req.Principal, req.DirectGroups = f.principal(pol)
			req.DirectGroupsKnown = req.Principal != nil
		}
		x, err := server.Explain(ctx, cfg, req)
		if err != nil {
			return err
		}
		return printExplanation(stdio, x, f.asJSON)
	}
	if pol, err = authz.LoadPolicy(f.policy); err != nil {
		return err
	}
	eng, err := authz.New(pol, authz.Options{})
	if err != nil {
		return err
	}
	path, query, _ := strings.Cut(target, "?")
	x := &server.Explanation{Class: catalog.Default().Classify(method, path, query)}
	p, direct := f.principal(pol)
	in := authz.Input{Principal: p, DirectGroups: direct, DirectGroupsKnown: p != nil, Request: &x.Class,
		Method: method, Path: path, SourceIP: req.SourceIP, Time: req.Time}
	if x.Explanation, err = eng.Explain(ctx, in); err != nil {
		return err
	}
	return printExplanation(stdio, x, f.asJSON)
}

// principal builds the principal the flags describe; nil for an anonymous
// request. Group names from the policy's mappings are turned into ids.
func (f *explainFlags) principal(pol *policy.Policy) (*identity.Principal, []string) {
	if f.user == "" && f.app == "" {
		return nil, nil
	}
	byName := map[string]string{}
	for _, m := range pol.Mappings() {
		if m.Group != "" && m.Name != "" {
			byName[m.Name] = m.Group
		}
	}
	resolve := func(list string) []string {
		var out []string
		for _, g := range splitList(list) {
			if id, ok := byName[g]; ok {
				g = id
			}
			out = append(out, g)
		}
		return out
	}
	direct := resolve(f.groups)
	p := &identity.Principal{
		Kind:     identity.User,
		TenantID: f.tenant,
		UPN:      f.user,
		ObjectID: "explain",
		Groups:   append(append([]string(nil), direct...), resolve(f.nestedGroups)...),
		AppRoles: splitList(f.appRoles),
		AMR:      splitList(f.amr),
	}
	if f.app != "" {
		p.Kind, p.UPN, p.AppID = identity.App, "", f.app
	}
	if f.mfa && !p.HasAMR("mfa") {
		p.AMR = append(p.AMR, "mfa")
	}
	return p, direct
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func printExplanation(stdio Stdio, x *server.Explanation, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		v := map[string]any{"known": x.Class.Known(), "explanation": x.Explanation}
		if x.Class.Op != nil {
			v["operation"] = x.Class.Op.ID
			v["dag_id"] = x.Class.DAGID
		} else {
			v["reason"] = x.Class.Reason
		}
		if x.AuthError != nil {
			v["authentication"] = x.AuthError.Error()
			v["decision"] = map[string]any{"allow": false, "reasons": []string{"unauthenticated"}}
		}
		return enc.Encode(v)
	}
	if !x.Class.Known() {
		fmt.Fprintf(stdio.Out, "route: unknown (%s): airgate denies it\n", x.Class.Reason)
	}
	if x.AuthError != nil {
		fmt.Fprintf(stdio.Out, "authentication: rejected (%s): the gateway answers 401 before any decision\n", x.AuthError)
		return nil
	}
	fmt.Fprint(stdio.Out, x.Text())
	return nil
}
