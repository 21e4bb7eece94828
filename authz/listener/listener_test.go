package listener

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewServerAppliesLimits(t *testing.T) {
	l := Limits{ReadTimeout: 3 * time.Second, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 4 * time.Second, IdleTimeout: 5 * time.Second, MaxHeaderBytes: 1234}
	s := NewServer(http.NotFoundHandler(), l, nil)
	if s.ReadTimeout != 3*time.Second || s.WriteTimeout != 4*time.Second || s.IdleTimeout != 5*time.Second || s.MaxHeaderBytes != 1234 {
		t.Fatalf("server %+v", s)
	}
	// The header deadline never outlives the whole request's.
	if s.ReadHeaderTimeout != 3*time.Second {
		t.Fatalf("ReadHeaderTimeout %v, want the read timeout", s.ReadHeaderTimeout)
	}
	if s.ErrorLog == nil {
		t.Fatal("no error log: net/http would write to stderr unstructured")
	}
}

// TestCapBodyReads: with every slot held, a request with a body is refused
// at once in WordPress's shape; one without a body, and any request once a
// slot is free, is served.
func TestCapBodyReads(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	h := CapBodyReads(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hold") != "" {
			entered.Done()
			<-release
		}
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), 2)
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(body string, hold bool) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		if body == "" {
			req.Body = http.NoBody
		}
		if hold {
			req.Header.Set("X-Hold", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		return resp
	}
	var held sync.WaitGroup
	for range 2 {
		held.Add(1)
		go func() { defer held.Done(); do("x", true) }()
	}
	entered.Wait()

	resp := do("x", false)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Code string `json:"code"`
		Data struct {
			Status int `json:"status"`
		} `json:"data"`
	}
	if resp.StatusCode != 503 || json.Unmarshal(b, &e) != nil || e.Code != "wpauthz_busy" || e.Data.Status != 503 ||
		resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Fatalf("refusal: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	if resp := do("", false); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("a request without a body was refused: %d", resp.StatusCode)
	}
	close(release)
	held.Wait()
	if resp := do("x", false); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("slots not returned: %d", resp.StatusCode)
	}
}
