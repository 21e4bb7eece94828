package authz

import "context"

// Checker decides requests. *Engine implements it; adapters depend only on
// this interface.
type Checker interface {
	Check(ctx context.Context, req *Request) *Decision
}
