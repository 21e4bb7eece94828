package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// server is one running server under test.
type server struct {
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string // wpauthz's HTTP listener; the floor's pprof listener, if any
	started  time.Time
	ready    time.Duration // from exec to answering checks
	done     chan error

	// peakAnon is the largest anonymous RSS (RssAnon: heap, stacks, runtime
	// data; not the mapped binary) seen since the last resetPeakRSS, sampled
	// every 10ms by sampleAnon.
	peakAnon atomic.Int64
	stopSamp chan struct{}
}

// startWPAuthz runs `wpauthz serve --config-dir dir` on loopback and waits
// until its first policy snapshot is in (/readyz).
func startWPAuthz(ctx context.Context, bin, dir string, log io.Writer) (*server, error) {
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--config-dir", dir, "--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--log-level", "warn"}
	s, err := start(bin, args, grpcAddr, log)
	if err != nil {
		return nil, err
	}
	s.httpAddr = httpAddr
	if err := s.waitReady(ctx, func() error {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startFloor runs the do-nothing ext_authz server and waits until its gRPC
// health service answers SERVING.
func startFloor(ctx context.Context, bin string, pprof bool, log io.Writer) (*server, error) {
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"--grpc-addr", grpcAddr}
	var httpAddr string
	if pprof {
		if httpAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", httpAddr)
	}
	s, err := start(bin, args, grpcAddr, log)
	if err != nil {
		return nil, err
	}
	s.httpAddr = httpAddr
	if err := s.waitReady(ctx, func() error { return grpcHealthy(ctx, grpcAddr) }); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func start(bin string, args []string, grpcAddr string, log io.Writer) (*server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that an interrupted benchmark can stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := &server{cmd: cmd, grpcAddr: grpcAddr, started: time.Now(), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- cmd.Wait() }()
	s.stopSamp = make(chan struct{})
	go s.sampleAnon()
	return s, nil
}

func (s *server) waitReady(ctx context.Context, probe func() error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := probe()
		if err == nil {
			s.ready = time.Since(s.started)
			return nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			return fmt.Errorf("%s exited before it was ready: %v", s.cmd.Path, werr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 60s: %v", s.cmd.Path, err)
		}
	}
}

// peakRSS is the process's peak resident set size (VmHWM) in bytes.
func (s *server) peakRSS() (int64, error) {
	return procStatusKiB(s.cmd.Process.Pid, "VmHWM")
}

// resetPeakRSS sets VmHWM back to the current RSS (Linux ≥ 4.0), and the
// anonymous peak to the current anonymous RSS, so that the next peakRSS and
// peakAnon cover only what happens from now on.
func (s *server) resetPeakRSS() error {
	anon, err := procStatusKiB(s.cmd.Process.Pid, "RssAnon")
	if err != nil {
		return err
	}
	s.peakAnon.Store(anon)
	return os.WriteFile("/proc/"+strconv.Itoa(s.cmd.Process.Pid)+"/clear_refs", []byte("5"), 0)
}

// sampleAnon tracks peakAnon until the server stops. The kernel keeps a
// high-water mark only for the whole RSS (VmHWM), which includes the pages
// of the binary the process has touched; the anonymous part is what grows
// with configuration and load.
func (s *server) sampleAnon() {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopSamp:
			return
		case <-t.C:
		}
		anon, err := procStatusKiB(s.cmd.Process.Pid, "RssAnon")
		if err != nil {
			continue
		}
		for {
			old := s.peakAnon.Load()
			if anon <= old || s.peakAnon.CompareAndSwap(old, anon) {
				break
			}
		}
	}
}

// stop sends SIGTERM and waits; SIGKILL after 10s.
func (s *server) stop() error {
	close(s.stopSamp)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			return fmt.Errorf("%s exited with %d", s.cmd.Path, ee.ExitCode())
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		return fmt.Errorf("%s did not stop on SIGTERM", s.cmd.Path)
	}
}

// cpuTime is the CPU time (user + system) the process has used so far.
func (s *server) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, counted in clock ticks (100 Hz
	// on Linux: USER_HZ is fixed by the kernel ABI).
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", s.cmd.Process.Pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

func procStatusKiB(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", field, val, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func grpcHealthy(ctx context.Context, addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health: %v", resp.GetStatus())
	}
	return nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
