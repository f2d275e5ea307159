// Package authz is airgate's decision point: given a verified principal, the
// Airflow operation a request maps to (a [catalog.Classification]) and the
// request's context, it decides allow or deny exactly as Airflow would under
// the permissions the policy's roles grant, and says why.
//
// Wiring, for the server and the CLI:
//
//	pol, err := authz.LoadPolicy(path) // policy.Load with Airflow's built-in roles
//	for _, w := range pol.Warnings() { ... }
//	eng, err := authz.New(pol, authz.Options{})
//	engine.Store(eng) // an atomic.Pointer[authz.Engine]; swap on reload
//
//	cls := catalog.Default().Classify(r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
//	d, err := eng.Decide(ctx, authz.Input{Principal: p, Request: &cls, ...})
//	// err != nil: the check could not run; deny (fail closed).
//	// !d.Allow: 403 with d.Reasons and d.Missing.
//	// d.DAGs.Active(): filter list responses with d.DAGs.Permits.
//
// The engine is transport-neutral and immutable; [Engine.Explain] traces the
// same decision step by step for `airgate explain`.
package authz
