// Package redistest runs a throwaway redis-server for tests: Debian's
// redis-server as a plain process on a free loopback port, in its own
// directory, without persistence (an empty --save, --appendonly no), stopped when
// the test ends. Kill and Restart (same port) test outages. StartCluster
// and StartSentinel build the other two topologies go-redis supports.
//
// When redis-server is not installed the test is skipped, unless
// WPAUTHZ_REQUIRE_REDIS is set (make test sets it; hack/test-deps.sh
// installs the package), in which case it fails.
package redistest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/freeport"
)

// Server is a running redis-server.
type Server struct {
	Addr string // 127.0.0.1:port
	URL  string // redis://127.0.0.1:port/0

	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
	done chan error
}

// Bin finds a program in PATH or the usual Debian directories.
func Bin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Require skips (or, with WPAUTHZ_REQUIRE_REDIS, fails) when a program is
// missing, and returns its path.
func Require(tb testing.TB, name string) string {
	tb.Helper()
	p := Bin(name)
	if p == "" {
		if os.Getenv("WPAUTHZ_REQUIRE_REDIS") != "" {
			tb.Fatalf("%s is not installed: run hack/test-deps.sh", name)
		}
		tb.Skipf("%s is not installed; run hack/test-deps.sh (make test does)", name)
	}
	return p
}

// Start starts a server for tb and stops it in tb's cleanup. extra are
// more redis-server arguments ("--cluster-enabled", "yes", …).
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	bin := Require(tb, "redis-server")
	dir, err := os.MkdirTemp("", "rds")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	port := FreePort(tb)
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir, port: port,
		args: append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"), "--protected-mode", "no"}, extra...),
	}
	s.URL = "redis://" + s.Addr + "/0"
	s.start(tb)
	tb.Cleanup(s.Kill)
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	s.cmd = exec.Command(s.bin, s.args...)
	s.done = make(chan error, 1)
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(s.cmd, s.done)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			// +PONG, or -NOAUTH from a server with requirepass: it answers.
			if n > 0 && (buf[0] == '+' || strings.HasPrefix(string(buf[:n]), "-NOAUTH")) {
				return
			}
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			tb.Fatalf("redis-server exited: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			tb.Fatalf("redis-server not ready: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL); a no-op when it is down.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies too
	<-s.done
	s.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing
// answers, as in a network partition. Resume undoes it.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Restart starts the server again on the same port, empty (no
// persistence): what a Redis restart without its data looks like.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill()
	s.start(tb)
}

// Dir is the server's working directory.
func (s *Server) Dir() string { return s.dir }

// FreePort returns a free loopback port below the ephemeral range
// (test/freeport says why).
func FreePort(tb testing.TB) int {
	tb.Helper()
	_, p, err := net.SplitHostPort(freeport.Addr(tb))
	if err != nil {
		tb.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatal(err)
	}
	return port
}
