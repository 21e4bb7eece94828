package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// harness lets this program call the helpers the integration suites share
// (test/redistest, test/testbin, test/freeport), which take a testing.TB:
// it implements the methods they use — Helper, Cleanup, Fatal(f), Skip(f),
// Failed, Log(f), Error(f), TempDir, Name — and nothing else (the embedded
// interface is nil, so any other method would panic, loudly, in
// development). Fatal unwinds the main goroutine to run, which calls the
// cleanups (stopping the servers) in reverse order.
type harness struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// errFatal is the panic value Fatal unwinds with.
var errFatal = errors.New("fatal")

func (h *harness) Helper()      {}
func (h *harness) Name() string { return "soak" }

func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, f)
}

func (h *harness) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (h *harness) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func (h *harness) Error(args ...any) { h.markFailed(); h.Log(args...) }
func (h *harness) Errorf(format string, args ...any) {
	h.markFailed()
	h.Logf(format, args...)
}

func (h *harness) Fatal(args ...any)                 { h.Error(args...); panic(errFatal) }
func (h *harness) Fatalf(format string, args ...any) { h.Errorf(format, args...); panic(errFatal) }

// A helper that would skip a test (redis-server not installed) is a
// failure here: a soak run that did not run must not look like one that
// passed.
func (h *harness) Skip(args ...any)                 { h.Fatal(append([]any{"cannot run:"}, args...)...) }
func (h *harness) Skipf(format string, args ...any) { h.Fatalf("cannot run: "+format, args...) }

func (h *harness) Failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}

func (h *harness) markFailed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed = true
}

func (h *harness) TempDir() string {
	dir, err := os.MkdirTemp("", "wpauthz-soak-")
	if err != nil {
		h.Fatal(err)
	}
	h.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// run calls f on this goroutine, then the cleanups, last registered
// first, whether f returned, failed or called Fatal. It reports whether
// everything passed.
func (h *harness) run(f func() error) (ok bool) {
	defer func() {
		if r := recover(); r != nil && r != errFatal {
			h.runCleanups()
			panic(r)
		}
		h.runCleanups()
		ok = !h.Failed()
	}()
	if err := f(); err != nil {
		h.Error("soak:", err)
	}
	return
}

func (h *harness) runCleanups() {
	for {
		h.mu.Lock()
		n := len(h.cleanups)
		if n == 0 {
			h.mu.Unlock()
			return
		}
		f := h.cleanups[n-1]
		h.cleanups = h.cleanups[:n-1]
		h.mu.Unlock()
		f()
	}
}
