package httpauth

import (
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
)

// stalledBody is what a slow client has sent when its connection is cut: a
// few bytes of the body it declared, then an error.
func stalledBody() io.Reader {
	return io.MultiReader(strings.NewReader("{\"requests\":[]"), errReader{io.ErrUnexpectedEOF})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestHardening7_CheckDoesNotAllocateDeclaredLength: a /check request that
// declares a 1 MiB body and sends a few bytes costs what it sent, not what
// it declared. (The old handler made a buffer of Content-Length before
// reading: 150 such clients took 150 MiB.) The bound is on bytes
// allocated per request, counted by the runtime, not on time.
func TestHardening7_CheckDoesNotAllocateDeclaredLength(t *testing.T) {
	h := NewHandler(authz.New(authz.Options{}), nil)
	serve := func() {
		r := httptest.NewRequest("POST", "/check/wp-json/batch/v1", stalledBody())
		r.ContentLength = MaxBodyBytes
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	serve() // warm up whatever is lazily initialised
	const runs = 50
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		serve()
	}
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	const bound = 32 << 10
	if perRequest > bound {
		t.Fatalf("a request that declared %d bytes and sent 14 allocated %d bytes (bound %d)", MaxBodyBytes, perRequest, bound)
	}
	t.Logf("%d bytes allocated per request", perRequest)
}

// BenchmarkHardening7_CheckStalledBody reports the bytes one stalled
// 1 MiB-declaring /check request costs.
func BenchmarkHardening7_CheckStalledBody(b *testing.B) {
	h := NewHandler(authz.New(authz.Options{}), nil)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/check/wp-json/batch/v1", stalledBody())
		r.ContentLength = MaxBodyBytes
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
