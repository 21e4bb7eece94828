package authztest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// RequireWPError fails t unless body is a refusal in WordPress's REST error
// shape, {"code": "...", "message": "...", "data": {"status": status}},
// with nothing else in it; it returns the code.
func RequireWPError(t testing.TB, status int, body []byte) string {
	t.Helper()
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Status int `json:"status"`
		} `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil || d.More() {
		t.Fatalf("refusal body %q is not in WordPress's error shape: %v", body, err)
	}
	if e.Code == "" || e.Message == "" || e.Data.Status != status || status < 400 || status > 599 {
		t.Fatalf("refusal %d with body %q", status, body)
	}
	return e.Code
}
