package cli

import (
	"context"
	"fmt"

	"github.com/airgate/airgate/internal/tokens"
)

func init() {
	register(command{
		name:    "tokens revoke",
		summary: "revoke exchanged tokens by id or subject on every replica (--config FILE --jti J | --subject S)",
		run:     runTokensRevoke,
	})
}

func runTokensRevoke(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("tokens revoke", stdio)
	cfgPath := fs.String("config", "airgate.yaml", "configuration file (its exchange.state_db, or audit.db, holds revocations)")
	jti := fs.String("jti", "", "revoke the token with this id (its jti claim)")
	subject := fs.String("subject", "", "revoke every token issued so far to or acted by this object id, app id or UPN")
	reason := fs.String("reason", "", "why, for the record")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if (*jti == "") == (*subject == "") {
		return fmt.Errorf("%w: give exactly one of --jti and --subject", errUsage)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	st, err := tokens.OpenStore(ctx, cfg.ExchangeStateDB(), tokens.StoreOptions{NoPoller: true})
	if err != nil {
		return err
	}
	defer st.Close()
	// Keep the record as long as any token issued before now can live.
	forget := cfg.Exchange.MaxTTL.D() + cfg.Entra.ClockSkew.D()
	if *jti != "" {
		err = st.RevokeJTI(ctx, *jti, *reason, forget)
	} else {
		err = st.RevokeSubject(ctx, *subject, *reason, forget)
	}
	if err != nil {
		return err
	}
	what := "token " + *jti
	if *subject != "" {
		what = "every token issued so far to or acted by " + *subject
	}
	bound := "at once"
	if d := cfg.Exchange.RevocationMaxStaleness.D(); d > 0 {
		bound = "within " + d.String()
	}
	_, err = fmt.Fprintf(stdio.Out, "revoked %s; every gateway on this state database refuses it %s\n", what, bound)
	return err
}
