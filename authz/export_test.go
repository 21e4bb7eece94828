package authz

import "context"

// DecideOnly runs a check without signing the identity assertion, so
// benchmarks can show the decision's own cost. It reports whether the
// request would be allowed.
func (e *Engine) DecideOnly(ctx context.Context, req *Request) bool {
	return e.decide(ctx, req).denial == nil
}
