package testbin

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a child process a test started: its output goes to Log
// (shown when the test fails), and it is killed when the test ends unless
// Stop ended it first.
type Process struct {
	Log     *Log
	cmd     *exec.Cmd
	done    chan error
	exitErr error
	exited  bool
}

// Start starts cmd (its Stdout and Stderr become the Log).
func Start(tb testing.TB, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Log: &Log{}, cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		if !p.exited {
			cmd.Process.Kill()
			p.wait()
		}
		if tb.Failed() {
			tb.Logf("%s log:\n%s", cmd.Path, p.Log.String())
		}
	})
	return p
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	if !p.exited {
		select {
		case err := <-p.done:
			p.exited, p.exitErr = true, err
		default:
		}
	}
	return p.exited, p.exitErr
}

func (p *Process) wait() error {
	if !p.exited {
		p.exited, p.exitErr = true, <-p.done
	}
	return p.exitErr
}

// Stop sends SIGTERM and expects a clean exit within 30 s.
func (p *Process) Stop(tb testing.TB) {
	tb.Helper()
	if exited, err := p.Exited(); exited {
		tb.Fatalf("%s had already exited (%v)", p.cmd.Path, err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.exited, p.exitErr = true, err
		if err != nil {
			tb.Fatalf("%s exited with %v after SIGTERM", p.cmd.Path, err)
		}
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s did not stop on SIGTERM", p.cmd.Path)
	}
}
