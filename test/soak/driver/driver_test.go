package main

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/testbin"
)

func TestSlopePerHour(t *testing.T) {
	var xs []time.Duration
	var ys []float64
	for i := range 13 { // every 5 minutes for an hour: y = 100 + 6 per hour
		x := time.Duration(i) * 5 * time.Minute
		xs, ys = append(xs, x), append(ys, 100+6*x.Hours())
	}
	if got, ok := slopePerHour(xs, ys); !ok || math.Abs(got-6) > 1e-9 {
		t.Fatalf("straight line: slope %v %v, want 6", got, ok)
	}
	// Noise around a flat line: a least-squares fit, not last minus first.
	zig := []float64{10, 12, 10, 12, 10, 12, 10, 12}
	if got, _ := slopePerHour(xs[:8], zig); got <= 0 || got > 5 {
		t.Fatalf("zigzag: slope %v, want small and positive", got)
	}
	if got, _ := slopePerHour(xs[:4], []float64{5, 5, 5, 5}); got != 0 {
		t.Fatalf("flat: slope %v", got)
	}
	if _, ok := slopePerHour(xs[:1], ys[:1]); ok {
		t.Fatal("one sample has no slope")
	}
	if _, ok := slopePerHour([]time.Duration{time.Minute, time.Minute}, []float64{1, 2}); ok {
		t.Fatal("two samples at one instant have no slope")
	}
}

func samplesEvery(step time.Duration, n int, rssKiB func(time.Duration) int64) []sample {
	var out []sample
	for i := range n {
		at := time.Duration(i) * step
		out = append(out, sample{at: at, rssKiB: rssKiB(at), threads: 8, fds: 30, goroutines: 150})
	}
	return out
}

func trendOf(t *testing.T, ts []trend, name string) trend {
	t.Helper()
	for _, tr := range ts {
		if tr.metric == name {
			return tr
		}
	}
	t.Fatalf("no %s trend in %v", name, ts)
	return trend{}
}

func TestTrendsWarmupAndBounds(t *testing.T) {
	b := bounds{rssMiBPerHour: 8, goroutinesPerHour: 50, fdsPerHour: 20}
	// RSS climbs 30 MiB in the first 5 minutes (caches filling), then
	// grows 4 MiB/h: within the bound once the warm-up is left out.
	rss := func(at time.Duration) int64 {
		if at < 5*time.Minute {
			return 60*1024 + int64(at.Minutes()*6*1024)
		}
		return 90*1024 + int64(at.Hours()*4*1024)
	}
	s := samplesEvery(10*time.Second, 361, rss) // one hour
	tr := trendOf(t, trends("A", s, metrics(b), 5*time.Minute, 20*time.Minute), "RSS")
	if !tr.judged || !tr.pass || math.Abs(tr.slope-4) > 0.1 || tr.warmAt != 5*time.Minute {
		t.Fatalf("after warm-up: %+v, want judged, passing, slope 4 from 5m", tr)
	}
	if tr.start != 60 || tr.end < 93.9 || tr.end > 94.1 || tr.low < 90.3 || tr.low > 90.4 || tr.high != tr.end {
		t.Fatalf("start %v end %v", tr.start, tr.end)
	}
	// Without the warm-up cut the filling caches would fail the bound:
	// the cut is what makes it pass.
	if all := trendOf(t, trends("A", s, metrics(b), 0, 20*time.Minute), "RSS"); all.pass {
		t.Fatalf("the whole run, warm-up included: %+v, want over the bound", all)
	}
	// A leak: 12 MiB/h after the warm-up fails.
	leak := samplesEvery(10*time.Second, 361, func(at time.Duration) int64 { return 60*1024 + int64(at.Hours()*12*1024) })
	if tr := trendOf(t, trends("A", leak, metrics(b), 5*time.Minute, 20*time.Minute), "RSS"); tr.pass || !tr.judged {
		t.Fatalf("12 MiB/h: %+v, want judged and over the bound", tr)
	}
	// The same leak over 3 minutes is reported, not judged.
	short := leak[:19]
	if tr := trendOf(t, trends("A", short, metrics(b), 18*time.Second, 20*time.Minute), "RSS"); tr.judged || !tr.pass {
		t.Fatalf("3 minutes: %+v, want not judged", tr)
	}
	// A binary without the goroutine counter: not measured.
	s[len(s)-1].goroutines = -1
	if tr := trendOf(t, trends("A", s, metrics(b), 5*time.Minute, 20*time.Minute), "goroutines"); tr.measured {
		t.Fatalf("goroutines -1: %+v, want not measured", tr)
	}
}

func TestReadSampleOwnProcess(t *testing.T) {
	s, err := readSample(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rssKiB <= 0 || s.threads <= 0 || s.fds <= 0 {
		t.Fatalf("own process: %+v", s)
	}
}

func TestHistoryVersions(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	h := newHistory(t0.Add(-time.Hour), 3*time.Second)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if v := h.add(at(time.Minute)); v != 1 {
		t.Fatalf("first edit is version %d", v)
	}
	h.add(at(2 * time.Minute))
	cases := []struct {
		name       string
		sent, done time.Duration
		want       []int
		inWindow   bool
	}{
		{"before any edit", 10 * time.Second, 10*time.Second + time.Millisecond, []int{0}, false},
		{"sent before the write, answered after it", 59*time.Second + 999*time.Millisecond, 60*time.Second + time.Millisecond, []int{0, 1}, true},
		{"inside the window", 61 * time.Second, 61*time.Second + time.Millisecond, []int{1, 0}, true},
		{"at the window's end", 63 * time.Second, 63*time.Second + time.Millisecond, []int{1, 0}, true},
		{"after the window", 64 * time.Second, 64*time.Second + time.Millisecond, []int{1}, false},
		{"the second edit", 121 * time.Second, 121*time.Second + time.Millisecond, []int{2, 1}, true},
		{"long after", 10 * time.Minute, 10*time.Minute + time.Millisecond, []int{2}, false},
	}
	for _, c := range cases {
		got, in := h.versions(at(c.sent), at(c.done))
		if in != c.inWindow || !equalSets(got, c.want) {
			t.Errorf("%s: versions %v in window %v, want %v %v", c.name, got, in, c.want, c.inWindow)
		}
	}
}

func equalSets(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

func TestJudge(t *testing.T) {
	flip := &checkKind{name: "flip", authenticated: true, even: 200, odd: 403}
	cases := []struct {
		name     string
		got      answer
		versions []int
		revoking bool
		want     bool
	}{
		{"even version allows", answer{200, true}, []int{0}, false, true},
		{"odd version refuses", answer{403, false}, []int{1}, false, true},
		{"old decision after the window", answer{200, true}, []int{1}, false, false},
		{"either decision inside the window", answer{200, true}, []int{1, 0}, false, true},
		{"401 is wrong for a live token", answer{401, false}, []int{0}, false, false},
		{"401 is right while it is revoked", answer{401, false}, []int{0}, true, true},
		{"an allow without identity is wrong", answer{200, false}, []int{0}, false, false},
		{"429 is wrong", answer{429, false}, []int{0, 1}, true, false},
	}
	for _, c := range cases {
		if got := judge(flip, c.got, c.versions, c.revoking); got != c.want {
			t.Errorf("%s: judge %v, want %v", c.name, got, c.want)
		}
	}
}

// The flips must match the sample policy the soak serves: this fails when
// config/samples/local/policy.yaml changes shape.
func TestPolicyTextFlipsTheSample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testbin.Root(), "config", "samples", "local", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sample, err := soakPolicy(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sample, soakAccessTTL) {
		t.Fatal("access TTL not shortened")
	}
	even, err := policyText(sample, 4)
	if err != nil {
		t.Fatal(err)
	}
	odd, err := policyText(sample, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(even, sample) || !strings.HasPrefix(even, "# soak policy version 4\n") {
		t.Fatal("an even version is the sample with its version line")
	}
	for _, f := range policyFlips {
		if !strings.Contains(odd, f.odd) || strings.Contains(odd, f.even) {
			t.Fatalf("odd version lacks the flip %q", f.odd)
		}
	}
	if _, err := policyText("spec: {}", 1); err == nil {
		t.Fatal("a policy without the rules to flip must be refused")
	}
}

func TestForgeChangesTheSignature(t *testing.T) {
	for _, tok := range []string{"aaa.bbb.AAAAAAAAAAAAAAAA", "aaa.bbb.BBBBBBBBBBBBBBBB", "x.y.0123456789abcdefghij"} {
		f := forge(tok)
		if len(f) != len(tok) || f == tok || f[:len(f)-10] != tok[:len(tok)-10] || f[len(f)-9:] != tok[len(tok)-9:] {
			t.Errorf("forge(%q) = %q: want one character changed, ten from the end", tok, f)
		}
	}
}

func TestPickReachesEveryKind(t *testing.T) {
	kinds := checkKinds()
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	if total != 100 {
		t.Fatalf("weights add up to %d, want 100", total)
	}
	seen := map[string]int{}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		seen[pick(kinds, total, r).name]++
	}
	for _, k := range kinds {
		if seen[k.name] == 0 {
			t.Errorf("%s never picked", k.name)
		}
	}
}

func TestTokenPoolRetireAndRevoke(t *testing.T) {
	p := newTokenPool()
	var fs []*family
	for i := range 4 {
		f := &family{user: jane, access: []*poolToken{{value: string(rune('a' + i))}}}
		fs = append(fs, f)
		p.add(f)
	}
	if p.retireOldest(jane, 4) != nil {
		t.Fatal("retired a family with only keep live")
	}
	old := p.retireOldest(jane, 3)
	if old != fs[0] || old.access[0].epoch.Load() != 1 {
		t.Fatalf("retired %v (epoch %d), want the oldest with its epoch moved", old, old.access[0].epoch.Load())
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if p.pickLive(jane, r) == old.access[0] {
			t.Fatal("a retired token is still drawn as live")
		}
	}
	if p.pickRevoked(r) != nil {
		t.Fatal("nothing is revoked yet")
	}
	for range keepRevoked + 5 {
		p.markRevoked(&poolToken{})
	}
	p.markRevoked(old.access[0])
	if len(p.revoked) != keepRevoked || p.revoked[len(p.revoked)-1] != old.access[0] || old.access[0].epoch.Load() != 2 {
		t.Fatalf("revoked set: %d tokens, want the last %d with the newest last", len(p.revoked), keepRevoked)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var l latencies
	if l.quantile(0.5) != 0 {
		t.Fatal("an empty histogram has no quantiles")
	}
	for range 98 {
		l.add(time.Millisecond)
	}
	l.add(50 * time.Millisecond)
	l.add(time.Minute) // past the last bucket: counted in it
	within := func(got, want time.Duration) bool { return got >= want && float64(got) <= float64(want)*1.13 }
	if got := l.quantile(0.5); !within(got, time.Millisecond) {
		t.Fatalf("p50 %v, want 1ms to within a bucket", got)
	}
	if got := l.quantile(0.99); !within(got, 50*time.Millisecond) {
		t.Fatalf("p99 %v, want 50ms to within a bucket", got)
	}
	if got := l.quantile(1); got != upper(perDecade*decades) {
		t.Fatalf("max %v, want the last bucket", got)
	}
}
