// Package testbin is what the tests that run the real wpauthz binary share:
// building it once per test process, a fresh copy of the sample policy
// folder, a log buffer the child process can write to while the test
// reads it, and the child process itself (Start, Stop).
package testbin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Root is the repository's root folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0) // <root>/test/testbin/testbin.go
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Wpauthz builds cmd/wpauthz once per test process and returns its path.
func Wpauthz(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wpauthz-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wpauthz")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/wpauthz")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/wpauthz: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// Samples copies config/samples/local (the policy `make run` serves) into
// a fresh folder the test may edit.
func Samples(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	files, err := filepath.Glob(filepath.Join(Root(), "config", "samples", "local", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// Log collects a child process's output; safe for the process's writes
// and the test's reads at once.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
