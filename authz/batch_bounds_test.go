package authz_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
)

// pagesBatch is a /batch/v1 body of n sub-requests to pages (open to any
// identity), each with the given headers object ("" for none).
func pagesBatch(n int, headers string) string {
	items := make([]string, n)
	for i := range items {
		h := ""
		if headers != "" {
			h = `,"headers":` + headers
		}
		items[i] = fmt.Sprintf(`{"method":"POST","path":"/wp/v2/pages/%d"%s}`, i+1, h)
	}
	return `{"requests":[` + strings.Join(items, ",") + `]}`
}

func (w *batchWorld) batch(t *testing.T, body string, complete bool) *authz.Decision {
	t.Helper()
	h := w.bearer(t, 5, "author")
	h["content-type"] = "application/json"
	return w.engine.Check(context.Background(), &authz.Request{
		Method: "POST", Host: "localhost", Target: "/wp-json/batch/v1", Headers: h,
		Body: []byte(body), BodyComplete: complete,
	})
}

func requireBatchDenied(t *testing.T, what string, d *authz.Decision) {
	t.Helper()
	if d.Allowed || d.Status != 403 || d.Code != "wpauthz_batch_denied" {
		t.Fatalf("%s: allowed=%v %d %q, want 403 wpauthz_batch_denied", what, d.Allowed, d.Status, d.Code)
	}
}

func requireBatchAllowed(t *testing.T, what string, d *authz.Decision) {
	t.Helper()
	if !d.Allowed {
		t.Fatalf("%s (control): %d %q, want allowed", what, d.Status, d.Code)
	}
}

// TestTruncatedBatchBodyDenied: a body the proxy cut off is never
// trusted, even when what arrived parses as a harmless batch: the rest
// may hold sub-requests wpauthz did not see.
func TestTruncatedBatchBodyDenied(t *testing.T) {
	w := newBatchWorld(t, editorsOnly...)
	body := pagesBatch(2, "")
	requireBatchAllowed(t, "whole body", w.batch(t, body, true))
	requireBatchDenied(t, "truncated body that parses", w.batch(t, body, false))
}

// TestBatchDeniedWhenNoRuleNamesBatch: /batch/v1 is refused unless a rule
// names it, even when the default action would let the caller through
// and every sub-request is allowed.
func TestBatchDeniedWhenNoRuleNamesBatch(t *testing.T) {
	body := pagesBatch(1, "")
	requireBatchAllowed(t, "a rule names /batch/v1", newBatchWorld(t, editorsOnly...).batch(t, body, true))
	requireBatchDenied(t, "no rule names /batch/v1", newRulesWorld(t, editorsOnly...).batch(t, body, true))
}

// TestBatchOver25SubRequestsDenied: WordPress refuses a batch of more
// than 25 sub-requests; so does wpauthz, whatever they are.
func TestBatchOver25SubRequestsDenied(t *testing.T) {
	w := newBatchWorld(t, editorsOnly...)
	requireBatchAllowed(t, "25 sub-requests", w.batch(t, pagesBatch(25, ""), true))
	requireBatchDenied(t, "26 sub-requests", w.batch(t, pagesBatch(26, ""), true))
}

// TestMethodOverrideInsideSubRequestDenied: a sub-request carrying a
// method override (any spelling PHP canonicalizes to it) is refused:
// WordPress ignores it inside a batch, so the caller expects another
// method than the one that would run.
func TestMethodOverrideInsideSubRequestDenied(t *testing.T) {
	w := newBatchWorld(t, editorsOnly...)
	requireBatchAllowed(t, "another header", w.batch(t, pagesBatch(1, `{"X-Custom":"DELETE"}`), true))
	for _, h := range []string{"X-HTTP-Method-Override", "x_http_method_override", "X-Http-Method_Override"} {
		requireBatchDenied(t, h+" in a sub-request", w.batch(t, pagesBatch(1, fmt.Sprintf(`{%q:"GET"}`, h)), true))
	}
}
