package authz

import (
	"context"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/wproute"
)

// authorizeBatch authorizes every sub-request of a /batch/v1 call with the
// caller's identity. WordPress runs each sub-request as its own route, so
// the batch is allowed only if each one would be; when wproute cannot say
// with certainty which sub-requests WordPress runs, the batch is refused.
func (e *Engine) authorizeBatch(ctx context.Context, p *policy.Policy, req wproute.Request, route wproute.Route, id *identity.Identity) *Decision {
	subs, err := wproute.BatchRequests(req, route)
	if err != nil {
		e.log.DebugContext(ctx, "batch refused", "err", err)
		return denyBatch
	}
	for _, sub := range subs {
		action, rule := decideAction(p, sub.Path, sub.Method)
		if action == v1alpha1.ActionDeny {
			return denyBatch
		}
		if d := authorize(action, rule, id); d != nil {
			return d
		}
	}
	return nil
}
