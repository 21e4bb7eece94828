// Command driver is wpauthz's load benchmark (`make bench`; method and
// results in BENCHMARKS.md). It measures the wpauthz binary against the
// floor — a do-nothing ext_authz server on the same gRPC stack
// (test/bench/noop) — in the same run, under the same load.
//
// It generates the configuration folders (two policies and 1,000 ApiKeys;
// 100 policies and 10,000 ApiKeys; a Basic policy with 1,000 WordPress
// users), 1,000 distinct ES256 and RS256 tokens, and one ghz data file per
// workload: the CheckRequests Envoy would send. Then, for every workload and
// round, it starts a fresh floor and a fresh wpauthz on loopback (the order
// rotates between rounds), sends every request of the workload once and
// checks the answer (allowed with an identity, allowed anonymously, or
// denied with 401 — anything else aborts the benchmark), warms up with ghz,
// runs the timed ghz load (closed loop, -c requests in flight), then a
// paced run below saturation for latency, and stops the server. Along the
// way it reads the server's and ghz's CPU time and the server's peak RSS
// (VmHWM, and the anonymous part sampled from RssAnon), split into loading
// (until a second after ready) and serving, and the RSS at rest in between.
//
// The table reports, per workload, the round in which wpauthz was fastest
// (the quietest, on a machine shared with other work), the floor measured
// next to it in that round, their ratio, and the spread of the ratio over
// all rounds. With -before, a second binary is measured in the same rounds
// for a before/after comparison.
//
//	go run ./test/bench/driver -wpauthz bin/wpauthz -noop bin/wpauthz-noop -ghz bin/ghz
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	wpauthz, noop, ghz string
	work               string
	total, warmup      int
	concurrency        int
	connections        int
	rounds             int
	only               string
	pprofDir           string
	out                string
	generateOnly       bool
	before             string
	paced              int
	pacedTotal         int
}

func main() {
	var o options
	flag.StringVar(&o.wpauthz, "wpauthz", "bin/wpauthz", "wpauthz binary (serve --config-dir …)")
	flag.StringVar(&o.noop, "noop", "bin/wpauthz-noop", "floor binary (test/bench/noop)")
	flag.StringVar(&o.ghz, "ghz", "bin/ghz", "ghz binary")
	flag.StringVar(&o.work, "work", "", "working folder for configurations, data files, logs and reports (default: a temporary folder, removed afterwards)")
	flag.IntVar(&o.total, "n", 100000, "requests per timed run")
	flag.IntVar(&o.warmup, "warmup", 10000, "requests per warm-up run (not timed)")
	flag.IntVar(&o.concurrency, "c", 50, "concurrent requests")
	flag.IntVar(&o.connections, "connections", 1, "gRPC connections ghz opens (Envoy opens one per worker thread)")
	flag.IntVar(&o.rounds, "rounds", 3, "measurements per workload and server; the table shows the quietest")
	flag.StringVar(&o.only, "workloads", "", "comma-separated workload names to run (default: all)")
	flag.StringVar(&o.pprofDir, "pprof", "", "profile both servers: write CPU and heap profiles of each timed run here. The -wpauthz binary must then serve net/http/pprof on its --http-addr (test/bench/pprofserve does); the floor gets --pprof-addr")
	flag.IntVar(&o.paced, "paced-rps", 1000, "after the saturating run, also measure latency at this fixed request rate (0: skip)")
	flag.IntVar(&o.pacedTotal, "paced-n", 5000, "requests in the fixed-rate run")
	flag.StringVar(&o.before, "before", "", "another wpauthz binary (say, without an optimisation) measured in the same rounds, for a before/after comparison")
	flag.BoolVar(&o.generateOnly, "generate-only", false, "write the configurations and ghz data files into -work and stop")
	flag.StringVar(&o.out, "o", "", "also write the table (Markdown) to this file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// settleTime is how long after it is ready a server is left alone before
// the loading phase's RSS is read (see measure).
const settleTime = time.Second

// sample is one timed run of one server.
type sample struct {
	rps      float64
	p50, p99 time.Duration
	// loadRSS is the peak RSS from start until settleTime after the server
	// was ready (for wpauthz: loading and compiling the configuration);
	// peakRSS is the peak from then to the end of the paced run.
	loadRSS, peakRSS int64
	// loadAnon and peakAnon are the same for the anonymous RSS alone
	// (RssAnon: heap, stacks, runtime), without the binary's pages.
	loadAnon, peakAnon int64
	// settledRSS and settledAnon are the RSS and its anonymous part once
	// the server has been ready for settleTime, before any request: what
	// the configuration costs at rest.
	settledRSS, settledAnon int64
	ready                   time.Duration
	// cpuPerReq is the server's CPU time (user + system) during the timed
	// run divided by its requests: less sensitive than RPS to what else
	// the machine is doing (though contention inflates it too).
	cpuPerReq time.Duration
	// ghzPerReq is the load generator's CPU time per request.
	ghzPerReq time.Duration
	// pacedP50 and pacedP99 are latencies at -paced-rps, below saturation.
	pacedP50, pacedP99 time.Duration
}

// contender is one server under test.
type contender struct {
	name  string // floor, wpauthz, before
	bin   string
	floor bool
}

type result struct {
	w      *workload
	floor  []sample
	wp     []sample
	before []sample // with -before
}

func run(ctx context.Context, o options) error {
	if o.rounds < 1 || o.total < 1 || o.warmup < 0 || o.concurrency < 1 || o.connections < 1 || o.paced < 0 || o.pacedTotal < 1 {
		return errors.New("-rounds, -n, -c, -connections and -paced-n must be positive; -warmup and -paced-rps not negative")
	}
	for _, b := range []string{o.wpauthz, o.noop, o.ghz, cmp.Or(o.before, o.ghz)} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s: %w (run `make bench`, which builds it)", b, err)
		}
	}
	work := o.work
	if work == "" {
		d, err := os.MkdirTemp("", "wpauthz-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

	start := time.Now()
	logf("generating configurations, tokens and ghz data in %s", work)
	fx, err := generate(work)
	if err != nil {
		return err
	}
	var all []*workload
	for _, w := range workloads(fx) {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), w.name) {
			continue
		}
		if err := w.writeData(filepath.Join(work, w.name+".json")); err != nil {
			return err
		}
		all = append(all, w)
	}
	if len(all) == 0 {
		return fmt.Errorf("no workload matches -workloads %q", o.only)
	}
	if fx.basicErr != nil {
		logf("Basic: not measured: %v", fx.basicErr)
	}
	if o.generateOnly {
		if o.work == "" {
			return errors.New("-generate-only needs -work")
		}
		logf("configurations: %s, %s, %s; ghz data: %s/*.json", fx.baseDir, fx.largeDir, fx.basicDir, work)
		return nil
	}
	serverLog, err := os.Create(filepath.Join(work, "servers.log"))
	if err != nil {
		return err
	}
	defer serverLog.Close()

	results := make([]*result, len(all))
	for i, w := range all {
		results[i] = &result{w: w}
	}
	contenders := []contender{{"floor", o.noop, true}, {"wpauthz", o.wpauthz, false}}
	if o.before != "" {
		contenders = append(contenders, contender{"before", o.before, false})
	}
	for round := range o.rounds {
		for _, r := range results {
			// Rotate the order, so that no server always runs first (or
			// right after the machine's other work calmed down).
			for k := range contenders {
				c := contenders[(k+round)%len(contenders)]
				s, err := measure(ctx, o, fx, r.w, c, round, serverLog)
				if err != nil {
					return fmt.Errorf("%s (%s): %w", r.w.name, c.name, err)
				}
				logf("round %d  %-16s %-8s %8.0f rps  p50 %-8v p99 %-8v CPU %5.1fµs/req (ghz %5.1fµs/req)  paced p50 %-6v p99 %-7v  peak RSS %5.1f (anon %5.1f) MiB, loading %5.1f (anon %5.1f) MiB, ready in %v, then at rest %5.1f (anon %5.1f) MiB",
					round+1, r.w.name, c.name, s.rps, ms(s.p50), ms(s.p99), us(s.cpuPerReq), us(s.ghzPerReq), ms(s.pacedP50), ms(s.pacedP99),
					mib(s.peakRSS), mib(s.peakAnon), mib(s.loadRSS), mib(s.loadAnon), s.ready.Round(time.Millisecond), mib(s.settledRSS), mib(s.settledAnon))
				switch c.name {
				case "floor":
					r.floor = append(r.floor, s)
				case "wpauthz":
					r.wp = append(r.wp, s)
				default:
					r.before = append(r.before, s)
				}
			}
		}
	}

	table := render(results, o)
	if o.before != "" {
		table += "\n" + renderBefore(results, o)
	}
	fmt.Println()
	fmt.Print(table)
	if fx.basicErr != nil {
		fmt.Printf("\nBasic: not measured: %v\n", fx.basicErr)
	}
	fmt.Printf("\n%s; ghz %s; %d rounds in %v\n", machine(), ghzVersion(o.ghz), o.rounds, time.Since(start).Round(time.Second))
	if o.out != "" {
		return os.WriteFile(o.out, []byte(table), 0o644)
	}
	return nil
}

// measure starts a fresh server, checks its answers, warms it up, times it
// and stops it.
func measure(ctx context.Context, o options, fx *fixture, w *workload, c contender, round int, log io.Writer) (sample, error) {
	var (
		s   *server
		err error
	)
	floor := c.floor
	if floor {
		s, err = startFloor(ctx, c.bin, o.pprofDir != "", log)
	} else {
		dir := map[string]string{"base": fx.baseDir, "large": fx.largeDir, "basic": fx.basicDir}[w.config]
		s, err = startWPAuthz(ctx, c.bin, dir, log)
	}
	if err != nil {
		return sample{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()

	// Loading ends a moment after the server says it is ready: wpauthz
	// hands the load's garbage back to the OS right after it swaps the
	// new configuration in, which may finish just after /readyz says so.
	select {
	case <-time.After(settleTime):
	case <-ctx.Done():
		return sample{}, ctx.Err()
	}
	loadRSS, err := s.peakRSS()
	if err != nil {
		return sample{}, err
	}
	loadAnon := s.peakAnon.Load()
	settledRSS, err := procStatusKiB(s.cmd.Process.Pid, "VmRSS")
	if err != nil {
		return sample{}, err
	}
	settledAnon, err := procStatusKiB(s.cmd.Process.Pid, "RssAnon")
	if err != nil {
		return sample{}, err
	}
	if err := s.resetPeakRSS(); err != nil {
		return sample{}, err
	}
	if err := w.verify(ctx, s.grpcAddr, floor); err != nil {
		return sample{}, fmt.Errorf("answers are wrong, not benchmarking: %w", err)
	}
	g := ghzRun{bin: o.ghz, addr: s.grpcAddr, dataFile: w.dataFile, total: o.warmup, concurrency: o.concurrency, connections: o.connections}
	warmRPS := 5000.0 // a guess, for the profile's length, when there is no warm-up
	if o.warmup > 0 {
		warm, err := g.run(ctx)
		if err != nil {
			return sample{}, fmt.Errorf("warm-up: %w", err)
		}
		warmRPS = warm.Rps
	}

	// Profiling: a CPU profile covering most of the timed run.
	profDone := make(chan error, 1)
	profiling := o.pprofDir != ""
	base := fmt.Sprintf("%s/%s-%s-r%d", o.pprofDir, w.name, c.name, round+1)
	if profiling {
		secs := max(1, int(math.Floor(float64(o.total)/warmRPS*0.8)))
		go func() {
			profDone <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.httpAddr, secs), base+".cpu.pprof")
		}()
		time.Sleep(100 * time.Millisecond)
	}
	g.total = o.total
	cpu0, err := s.cpuTime()
	if err != nil {
		return sample{}, err
	}
	rep, err := g.run(ctx)
	if err != nil {
		return sample{}, err
	}
	cpu1, err := s.cpuTime()
	if err != nil {
		return sample{}, err
	}
	if profiling {
		if err := <-profDone; err != nil {
			return sample{}, fmt.Errorf("CPU profile: %w", err)
		}
		if err := fetch(ctx, "http://"+s.httpAddr+"/debug/pprof/heap", base+".heap.pprof"); err != nil {
			return sample{}, fmt.Errorf("heap profile: %w", err)
		}
	}
	var paced *ghzReport
	if o.paced > 0 {
		g.total, g.rps = o.pacedTotal, o.paced
		if paced, err = g.run(ctx); err != nil {
			return sample{}, fmt.Errorf("paced run: %w", err)
		}
	}
	rss, err := s.peakRSS()
	if err != nil {
		return sample{}, err
	}
	anon := s.peakAnon.Load()
	stopped = true
	if err := s.stop(); err != nil {
		return sample{}, err
	}
	smp := sample{rps: rep.Rps, p50: rep.percentile(50), p99: rep.percentile(99), loadRSS: loadRSS, peakRSS: rss, loadAnon: loadAnon, peakAnon: anon, ready: s.ready,
		settledRSS: settledRSS, settledAnon: settledAnon,
		cpuPerReq: (cpu1 - cpu0) / time.Duration(o.total), ghzPerReq: rep.cpu / time.Duration(o.total)}
	if paced != nil {
		smp.pacedP50, smp.pacedP99 = paced.percentile(50), paced.percentile(99)
	}
	return smp, nil
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// render is the Markdown table: per workload, the quietest round (see
// quietest) for throughput and latency, the spread and median of the ratio
// over all rounds, the ratio the CPU times predict (median over rounds), and
// the largest peak RSS of all rounds.
func render(results []*result, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "concurrency %d, %d requests per timed run (after %d warm-up), %d connection(s), quietest of %d rounds",
		o.concurrency, o.total, o.warmup, o.connections, o.rounds)
	if o.paced > 0 {
		fmt.Fprintf(&b, "; paced: %d requests at %d/s", o.pacedTotal, o.paced)
	}
	b.WriteString("\n\n| workload | RPS wpauthz / floor | ratio | ratio, all rounds | ratio from CPU time | p50 / p99 wpauthz | p50 / p99 floor |")
	if o.paced > 0 {
		fmt.Fprintf(&b, " p50 / p99 at %d/s wpauthz / floor |", o.paced)
	}
	b.WriteString(" CPU per request wpauthz / floor / ghz | peak RSS serving / loading (anon) | RSS at rest after loading (anon) | floor peak RSS | targets |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	if o.paced > 0 {
		b.WriteString(" ---: |")
	}
	b.WriteString(" ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range results {
		i := quietest(r.wp, r.floor)
		wp, fl := r.wp[i], r.floor[i]
		ratio := wp.rps / fl.rps
		ratios := make([]float64, len(r.wp))
		cpuRatios := make([]float64, len(r.wp))
		for i := range r.wp {
			ratios[i] = r.wp[i].rps / r.floor[i].rps
			cpuRatios[i] = cpuRatio(r.wp[i], r.floor[i])
		}
		lo, hi := slices.Min(ratios), slices.Max(ratios)
		maxOf := func(ss []sample, f func(sample) int64) int64 {
			m := int64(0)
			for _, s := range ss {
				m = max(m, f(s))
			}
			return m
		}
		servingRSS := maxOf(r.wp, func(s sample) int64 { return s.peakRSS })
		servingAnon := maxOf(r.wp, func(s sample) int64 { return s.peakAnon })
		loadRSS := maxOf(r.wp, func(s sample) int64 { return s.loadRSS })
		loadAnon := maxOf(r.wp, func(s sample) int64 { return s.loadAnon })
		settledRSS := maxOf(r.wp, func(s sample) int64 { return s.settledRSS })
		settledAnon := maxOf(r.wp, func(s sample) int64 { return s.settledAnon })
		floorRSS := maxOf(r.floor, func(s sample) int64 { return max(s.peakRSS, s.loadRSS) })

		var targets []string
		if r.w.target > 0 {
			targets = append(targets, fmt.Sprintf("ratio ≥ %.1f %s", r.w.target, mark(ratio >= r.w.target)))
		}
		targets = append(targets, "p99 ≤ 2 ms "+mark(wp.p99 <= 2*time.Millisecond))
		if o.paced > 0 {
			targets = append(targets, fmt.Sprintf("(paced %s)", mark(wp.pacedP99 <= 2*time.Millisecond)))
		}
		if r.w.rssTarget > 0 {
			peak := max(servingRSS, loadRSS)
			targets = append(targets, fmt.Sprintf("RSS ≤ %.0f MiB %s", r.w.rssTarget, mark(mib(peak) <= r.w.rssTarget)))
		}
		fmt.Fprintf(&b, "| %s | %.0f / %.0f | **%.2f** | %.2f–%.2f (median %.2f) | %.2f | %v / %v | %v / %v |",
			r.w.title, wp.rps, fl.rps, ratio, lo, hi, median(ratios), median(cpuRatios), ms(wp.p50), ms(wp.p99), ms(fl.p50), ms(fl.p99))
		if o.paced > 0 {
			fmt.Fprintf(&b, " %v / %v ; %v / %v |", ms(wp.pacedP50), ms(wp.pacedP99), ms(fl.pacedP50), ms(fl.pacedP99))
		}
		fmt.Fprintf(&b, " %.1f / %.1f / %.1f µs | %.1f / %.1f MiB (%.1f / %.1f) | %.1f MiB (%.1f) | %.1f MiB | %s |\n",
			us(wp.cpuPerReq), us(fl.cpuPerReq), us(wp.ghzPerReq),
			mib(servingRSS), mib(loadRSS), mib(servingAnon), mib(loadAnon), mib(settledRSS), mib(settledAnon), mib(floorRSS), strings.Join(targets, ", "))
	}
	return b.String()
}

// quietest is the round in which both servers ran fastest (the largest
// product of their RPS): the round least disturbed by other work on the
// machine. Picking the round in which one of them was fastest would favour
// rounds in which only the other one was disturbed.
func quietest(a, b []sample) int {
	q := 0
	for i := range a {
		if a[i].rps*b[i].rps > a[q].rps*b[q].rps {
			q = i
		}
	}
	return q
}

// cpuRatio is the RPS ratio the CPU time predicts: with both cores
// saturated, throughput is inversely proportional to the CPU time one
// request costs the whole system (server plus ghz). It is less disturbed
// by other work than wall-clock throughput.
func cpuRatio(wp, floor sample) float64 {
	return float64(floor.cpuPerReq+floor.ghzPerReq) / float64(wp.cpuPerReq+wp.ghzPerReq)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// renderBefore compares -before with -wpauthz, both measured in the same
// rounds against the same floor: the ratio of each in its quietest round,
// the ratio the CPU times predict, and the CPU each spent per request
// (medians over rounds: the steadiest figures on a busy machine).
func renderBefore(results []*result, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "before = %s, after = %s\n\n", o.before, o.wpauthz)
	b.WriteString("| workload | ratio before → after | ratio from CPU time before → after | RPS before → after | server CPU per request before → after |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		ib, ia := quietest(r.before, r.floor), quietest(r.wp, r.floor)
		bf, af := r.before[ib].rps/r.floor[ib].rps, r.wp[ia].rps/r.floor[ia].rps
		cb, ca := make([]float64, len(r.wp)), make([]float64, len(r.wp))
		for i := range r.wp {
			cb[i], ca[i] = cpuRatio(r.before[i], r.floor[i]), cpuRatio(r.wp[i], r.floor[i])
		}
		fmt.Fprintf(&b, "| %s | %.2f → %.2f | %.2f → %.2f | %.0f → %.0f | %.1f → %.1f µs |\n", r.w.title, bf, af, median(cb), median(ca),
			r.before[ib].rps, r.wp[ia].rps, us(medianCPU(r.before)), us(medianCPU(r.wp)))
	}
	return b.String()
}

func medianCPU(samples []sample) time.Duration {
	c := make([]time.Duration, len(samples))
	for i := range samples {
		c[i] = samples[i].cpuPerReq
	}
	slices.Sort(c)
	return c[len(c)/2]
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// ms rounds a latency for the table: 1.234ms, 456µs.
func ms(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// machine is a one-line summary: CPU model and count, Go version.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
