package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// editor rewrites the policy file every interval (the next version) and
// measures how long each replica takes to enforce it.
type editor struct {
	path, sample string
	hist         *history
	replicas     []*replica
	fail         *failures
	usersKind    *checkKind // the anonymous users check: its answer tells the version

	mu      sync.Mutex
	edits   int
	applied map[string][]time.Duration // per replica: write to first new answer
}

func (e *editor) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.edit(ctx)
	}
}

func (e *editor) edit(ctx context.Context) {
	e.mu.Lock()
	v := e.edits + 1
	e.mu.Unlock()
	text, err := policyText(e.sample, v)
	if err != nil {
		e.fail.add("policy edit: %v", err)
		return
	}
	// Recorded before the write: no request can meet version v before
	// its window opens.
	written := time.Now()
	e.hist.add(written)
	if err := writeAtomic(e.path, text); err != nil {
		e.fail.add("policy edit: %v", err)
		return
	}
	e.mu.Lock()
	e.edits = v
	e.mu.Unlock()
	want := e.usersKind.want(v)
	var wg sync.WaitGroup
	for _, r := range e.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				got, err := r.checkHTTP(ctx, e.usersKind.method, e.usersKind.path, nil)
				if err == nil && got.status == want {
					e.mu.Lock()
					e.applied[r.name] = append(e.applied[r.name], time.Since(written))
					e.mu.Unlock()
					return
				}
				if time.Since(written) > e.hist.window {
					e.fail.add("policy version %d not enforced by %s within the reload window %v (answer %d %v)", v, r.name, e.hist.window, got.status, err)
					return
				}
				time.Sleep(5 * time.Millisecond) // poll
			}
		}()
	}
	wg.Wait()
}

// writeInitial writes version 0 into dir before the replicas start.
func writeInitial(dir string) (path, sample string, err error) {
	path = filepath.Join(dir, "policy.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	if sample, err = soakPolicy(string(b)); err != nil {
		return "", "", err
	}
	text, err := policyText(sample, 0)
	if err != nil {
		return "", "", err
	}
	return path, sample, writeAtomic(path, text)
}
