// Command driver is wpauthz's soak test (`make soak`; method, bounds and
// results in BENCHMARKS.md, "Soak"). It runs two `wpauthz serve` replicas
// (standalone, the same config folder) sharing one real redis-server, and
// for -duration sends them, at -rate checks per second in total:
//
//   - Envoy gRPC Check calls and HTTP /check calls, half each, of fifteen
//     kinds: anonymous allowed, denied and disabled routes, bearer JWTs
//     (editor, subscriber, revoked, forged), API keys (allowed, 403,
//     unknown) and Basic (application password, passwords);
//   - token churn: logins, refreshes (on the other replica), revocations
//     issued on A — one access token, then a whole login by its refresh
//     token — each polled until B (and A) refuse it;
//   - a policy edit every -edit-every: the folder's policy rewritten, two
//     rules flipped, which the replicas reload.
//
// Every answer is checked against the decision the policy version in
// force must give. A request overlapping a reload window (-reload-window
// from the write) may get the old or the new version's decision, and a
// check whose token was being revoked may get 401; those are counted
// apart. Any other wrong decision, any request error, a revocation not
// refused on B within 5 s or an edit not enforced within the window fails
// the run.
//
// Every -sample it reads each replica's RSS (VmRSS), OS threads
// (/proc/PID/status), open FDs (/proc/PID/fd) and goroutines (the soak
// build's debug listener, cmd/wpauthz/soakdebug.go), and prints a
// Markdown table: at the start, after the warm-up, at the end, and the
// least-squares slope per hour after the warm-up, judged against the
// bounds (-max-rss-slope, -max-goroutine-slope, -max-fd-slope) when the
// samples after the warm-up span at least -min-slope-span.
//
//	go build -tags soak -o bin/wpauthz-soak ./cmd/wpauthz
//	go run ./test/soak/driver -wpauthz bin/wpauthz-soak -duration 3m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wpauthz/wpauthz/test/redistest"
	"github.com/wpauthz/wpauthz/test/testbin"
)

type options struct {
	wpauthz        string
	duration       time.Duration
	rate           float64
	workers        int
	httpConns      int
	sampleEvery    time.Duration
	warmup         time.Duration
	editEvery      time.Duration
	reloadWindow   time.Duration
	churnEvery     time.Duration
	minSlopeSpan   time.Duration
	bounds         bounds
	out            string
	progressEvery  time.Duration
	requireRoutine bool
}

func main() {
	var o options
	flag.StringVar(&o.wpauthz, "wpauthz", "bin/wpauthz-soak", "the wpauthz binary, built with -tags soak (for the goroutine count)")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.Float64Var(&o.rate, "rate", 1500, "checks per second, both replicas and both adapters together")
	flag.IntVar(&o.workers, "workers", 64, "concurrent senders")
	flag.IntVar(&o.httpConns, "http-conns", 16, "HTTP connections to each replica at most (a fixed number, so that the servers' FDs and goroutines do not follow the machine's load)")
	flag.DurationVar(&o.sampleEvery, "sample", 10*time.Second, "how often each replica's resources are read")
	flag.DurationVar(&o.warmup, "warmup", 0, "samples before this are left out of the slope (0: 10% of -duration, at most 5m)")
	flag.DurationVar(&o.editEvery, "edit-every", time.Minute, "how often the policy is edited")
	flag.DurationVar(&o.reloadWindow, "reload-window", 3*time.Second, "after an edit, how long either version's decision is accepted; the edit must be enforced by then")
	flag.DurationVar(&o.churnEvery, "churn-every", 250*time.Millisecond, "pause between token churn cycles (login, refresh, two revocations)")
	flag.DurationVar(&o.minSlopeSpan, "min-slope-span", 20*time.Minute, "judge the slopes only when the samples after the warm-up span at least this")
	flag.Float64Var(&o.bounds.rssMiBPerHour, "max-rss-slope", 8, "highest RSS slope after the warm-up, MiB per hour")
	flag.Float64Var(&o.bounds.goroutinesPerHour, "max-goroutine-slope", 50, "highest goroutine slope after the warm-up, per hour")
	flag.Float64Var(&o.bounds.fdsPerHour, "max-fd-slope", 20, "highest open-FD slope after the warm-up, per hour")
	flag.DurationVar(&o.progressEvery, "progress", time.Minute, "how often a progress line goes to stderr")
	flag.StringVar(&o.out, "o", "", "also write the report (Markdown) to this file")
	flag.Parse()
	if o.warmup == 0 {
		o.warmup = min(o.duration/10, 5*time.Minute)
	}
	if o.rate <= 0 || o.workers < 1 || o.httpConns < 1 || o.duration <= 0 || o.sampleEvery <= 0 || o.editEvery <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -rate, -workers, -http-conns, -duration, -sample and -edit-every must be positive")
		os.Exit(2)
	}
	if _, err := os.Stat(o.wpauthz); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v (make soak builds it)\n", err)
		os.Exit(2)
	}
	h := &harness{}
	if !h.run(func() error { return soak(h, o) }) {
		fmt.Fprintln(os.Stderr, "soak: FAIL")
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "soak: PASS")
}

func soak(h *harness, o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := redistest.Start(h)
	// Runs before redistest removes the server's folder: a failed run
	// keeps Redis's side of the story (a stall shows there).
	h.Cleanup(func() {
		if h.Failed() {
			if b, err := os.ReadFile(filepath.Join(srv.Dir(), "redis.log")); err == nil {
				h.Logf("redis-server log:\n%s", b)
			}
		}
	})
	dir := testbin.Samples(h)
	path, policySample, err := writeInitial(dir)
	if err != nil {
		return err
	}
	a := startReplica(h, "A", o.wpauthz, dir, srv.URL, o.httpConns)
	b := startReplica(h, "B", o.wpauthz, dir, srv.URL, o.httpConns)
	replicas := []*replica{a, b}
	h.Logf("soak: redis %s; A %s, B %s; %v at %.0f checks/s", srv.Addr, a.base, b.base, o.duration, o.rate)

	fail := &failures{}
	pool := newTokenPool()
	// The login throttle allows 5 attempts of one user in flight (a
	// success gives its slot back): the Basic checks and logins of a user
	// share a semaphore of 3 so that none is refused with 429.
	throttle := map[user]chan struct{}{jane: make(chan struct{}, 3), sam: make(chan struct{}, 3)}
	// Version 0 was written before the replicas started: its reload
	// window is long closed.
	hist := newHistory(time.Now().Add(-time.Hour), o.reloadWindow)
	l := newLoad(replicas, pool, hist, throttle, fail)
	var users *checkKind
	for _, k := range l.kinds {
		if k.path == "/wp-json/wp/v2/users" {
			users = k
		}
	}
	ch := &churn{a: a, b: b, pool: pool, throttle: throttle, fail: fail}
	ed := &editor{path: path, sample: policySample, hist: hist, replicas: replicas, fail: fail, usersKind: users, applied: map[string][]time.Duration{}}

	// Fill the pool before the load starts, so that every kind is sent
	// from the first second.
	for range keepFamilies[jane] {
		if err := ch.cycle(ctx, nil, jane); err != nil {
			return err
		}
	}
	for range keepFamilies[sam] {
		if err := ch.cycle(ctx, nil, sam); err != nil {
			return err
		}
	}

	// Cancelled rather than given a deadline: a deadline would travel
	// with the last gRPC checks to the server, which would answer
	// DeadlineExceeded before this side sees the end of the run.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	time.AfterFunc(o.duration, cancel)
	start := time.Now()
	samples := map[string][]sample{}
	var smu sync.Mutex
	takeSamples := func() {
		for _, r := range replicas {
			s, err := readSample(r.pid)
			if err != nil {
				fail.add("%s: %v (did it exit?)", r.name, err)
				continue
			}
			s.at = time.Since(start)
			s.goroutines = r.goroutines()
			smu.Lock()
			samples[r.name] = append(samples[r.name], s)
			smu.Unlock()
		}
	}
	var wg sync.WaitGroup
	goRun := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	goRun(func() { l.run(runCtx, o.rate, o.workers) })
	goRun(func() { ch.run(runCtx, o.churnEvery) })
	goRun(func() { ed.run(runCtx, o.editEvery) })
	goRun(func() {
		takeSamples()
		t := time.NewTicker(o.sampleEvery)
		defer t.Stop()
		p := time.NewTicker(o.progressEvery)
		defer p.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				takeSamples()
			case <-p.C:
				smu.Lock()
				last := func(n string) sample {
					if s := samples[n]; len(s) > 0 {
						return s[len(s)-1]
					}
					return sample{goroutines: -1}
				}
				ra, rb := last("A"), last("B")
				smu.Unlock()
				total, wrong, errs := l.totals()
				h.Logf("soak: %v: %d checks (%.0f/s), %d wrong, %d errors, %d failures; RSS A %.1f MiB B %.1f MiB; goroutines A %d B %d",
					time.Since(start).Round(time.Second), total, float64(total)/time.Since(start).Seconds(), wrong, errs, fail.count(),
					float64(ra.rssKiB)/1024, float64(rb.rssKiB)/1024, ra.goroutines, rb.goroutines)
			}
		}
	})
	wg.Wait()
	elapsed := time.Since(start)
	takeSamples()
	interrupted := ctx.Err() != nil

	ms := metrics(o.bounds)
	var ts []trend
	for _, r := range replicas {
		ts = append(ts, trends(r.name, samples[r.name], ms, o.warmup, o.minSlopeSpan)...)
	}
	var rep strings.Builder
	verdict := report(&rep, o, elapsed, l, ch, ed, ts, fail, interrupted)
	fmt.Print(rep.String())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.String()), 0o644); err != nil {
			h.Error(err)
		}
	}
	// A clean exit on SIGTERM is part of the run.
	for _, r := range replicas {
		r.proc.Stop(h)
	}
	if verdict != nil {
		return verdict
	}
	return nil
}

func (l *load) totals() (total, wrong, errs int64) {
	for _, t := range l.tallies {
		total += t.total.Load()
		wrong += t.wrong.Load()
		errs += t.errors.Load()
	}
	return
}

// report writes the Markdown report and returns why the run failed (nil:
// it passed).
func report(w io.Writer, o options, elapsed time.Duration, l *load, ch *churn, ed *editor, ts []trend, fail *failures, interrupted bool) error {
	var problems []string
	total, wrong, errs := l.totals()
	fmt.Fprintf(w, "## Soak: two replicas, one Redis, %v\n\n", elapsed.Round(time.Second))
	fmt.Fprintf(w, "Target %.0f checks/s, reached **%.0f/s** (%d checks: %d gRPC, %d HTTP; %d sends more than 1 s late). Started %s.\n\n",
		o.rate, float64(total)/elapsed.Seconds(), total, l.byPath[0].Load(), l.byPath[1].Load(), l.behind.Load(), time.Now().Add(-elapsed).UTC().Format(time.RFC3339))

	fmt.Fprintf(w, "Check latency, send to answer as the driver sees it (the driver shares the machine): gRPC %s; HTTP %s.\n\n", &l.latency[0], &l.latency[1])

	fmt.Fprintf(w, "| check | sent | right | right, in a reload window | right, revocation under way | wrong | errors |\n|---|--:|--:|--:|--:|--:|--:|\n")
	var sum tally
	for _, k := range l.kinds {
		t := l.tallies[k]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d |\n", k.name, t.total.Load(), t.right.Load(), t.reloadWindow.Load(), t.revokeWindow.Load(), t.wrong.Load(), t.errors.Load())
		sum.total.Add(t.total.Load())
		sum.right.Add(t.right.Load())
		sum.reloadWindow.Add(t.reloadWindow.Load())
		sum.revokeWindow.Add(t.revokeWindow.Load())
	}
	fmt.Fprintf(w, "| **all** | %d | %d | %d | %d | %d | %d |\n\n", sum.total.Load(), sum.right.Load(), sum.reloadWindow.Load(), sum.revokeWindow.Load(), wrong, errs)

	ch.mu.Lock()
	fmt.Fprintf(w, "Token churn: %d logins, %d refreshes, %d revocations on A. Revocation on A until refused on B: %s; on A: %s.\n\n",
		ch.logins, ch.refreshes, ch.revokes, quantiles(ch.propagationB), quantiles(ch.propagationA))
	ch.mu.Unlock()
	ed.mu.Lock()
	fmt.Fprintf(w, "Policy edits: %d (every %v, reload window %v). Write until enforced: A %s; B %s.\n\n",
		ed.edits, o.editEvery, o.reloadWindow, quantiles(ed.applied["A"]), quantiles(ed.applied["B"]))
	ed.mu.Unlock()

	fmt.Fprintf(w, "| replica | resource | start | after warm-up | end | slope per hour after warm-up | bound | |\n|---|---|--:|--:|--:|--:|--:|---|\n")
	for _, t := range ts {
		unit := ""
		if t.unit != "" {
			unit = " " + t.unit
		}
		f := func(v float64) string {
			if t.unit == "" {
				return fmt.Sprintf("%.0f", v)
			}
			return fmt.Sprintf("%.1f%s", v, unit)
		}
		bound, verdict := "—", "reported"
		if t.bound > 0 {
			bound = fmt.Sprintf("%g%s/h", t.bound, unit)
		}
		slope := fmt.Sprintf("%+.2f%s/h", t.slope, unit)
		switch {
		case !t.measured:
			slope, verdict = "not measured", "not measured"
			if t.bound > 0 {
				problems = append(problems, fmt.Sprintf("%s %s not measured (a binary built without -tags soak?)", t.replica, t.metric))
			}
		case !t.pass:
			verdict = "**over the bound**"
			problems = append(problems, fmt.Sprintf("%s %s slope %+.2f/h over the bound %g/h", t.replica, t.metric, t.slope, t.bound))
		case t.judged:
			verdict = "within"
		case t.bound > 0:
			verdict = fmt.Sprintf("not judged (under %v after warm-up)", o.minSlopeSpan)
		}
		start, warm, end := f(t.start), f(t.warm)+fmt.Sprintf(" (at %v)", t.warmAt.Round(time.Second)), f(t.end)
		if !t.measured {
			start, warm, end = "—", "—", "—"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", t.replica, t.metric, start, warm, end, slope, bound, verdict)
	}
	fmt.Fprintln(w)
	for _, t := range ts {
		if t.metric == "RSS" && t.measured {
			fmt.Fprintf(w, "RSS of %s after the warm-up: %.1f–%.1f MiB.\n", t.replica, t.low, t.high)
		}
	}
	fmt.Fprintln(w)

	if wrong > 0 {
		problems = append(problems, fmt.Sprintf("%d wrong decisions", wrong))
	}
	if errs > 0 {
		problems = append(problems, fmt.Sprintf("%d request errors", errs))
	}
	if n := fail.count(); n > 0 {
		fail.mu.Lock()
		fmt.Fprintf(w, "Failures (%d; the first %d):\n\n", n, len(fail.first))
		for _, f := range fail.first {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fail.mu.Unlock()
		fmt.Fprintln(w)
		if int64(n) > wrong+errs {
			problems = append(problems, fmt.Sprintf("%d churn or reload failures", int64(n)-wrong-errs))
		}
	}
	if interrupted {
		problems = append(problems, "interrupted before -duration")
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "Result: **PASS**.")
		return nil
	}
	fmt.Fprintf(w, "Result: **FAIL**: %s.\n", strings.Join(problems, "; "))
	return errors.New(strings.Join(problems, "; "))
}

// quantiles is "p50 x, p99 y, max z (n)" of ds.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("p50 %s, p99 %s, max %s (%d)", r(q(0.5)), r(q(0.99)), r(s[len(s)-1]), len(s))
}
