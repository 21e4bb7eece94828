package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one reading of a replica's resources.
type sample struct {
	at         time.Duration // since the load started
	rssKiB     int64         // VmRSS
	threads    int64         // OS threads (Threads in /proc/PID/status)
	fds        int64         // entries of /proc/PID/fd
	goroutines int64         // -1: not measured
}

// readSample reads pid's /proc files.
func readSample(pid int) (sample, error) {
	var s sample
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch name {
		case "VmRSS":
			s.rssKiB, err = strconv.ParseInt(fields[0], 10, 64)
		case "Threads":
			s.threads, err = strconv.ParseInt(fields[0], 10, 64)
		}
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = int64(len(fds))
	return s, nil
}

// slopePerHour is the least-squares slope of ys over xs (durations),
// in units of y per hour. Fewer than two distinct instants give 0, false.
func slopePerHour(xs []time.Duration, ys []float64) (float64, bool) {
	n := float64(len(xs))
	if len(xs) != len(ys) || len(xs) < 2 {
		return 0, false
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i].Hours()
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		dx := xs[i].Hours() - mx
		sxx += dx * dx
		sxy += dx * (ys[i] - my)
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

// metric is one resource figure of a sample, with its slope bound.
type metric struct {
	name  string
	unit  string
	value func(sample) float64
	// bound is the highest slope per hour after warm-up that passes; 0:
	// reported, not judged.
	bound float64
}

// bounds are the defaults; the flags can change them.
type bounds struct {
	rssMiBPerHour, goroutinesPerHour, fdsPerHour float64
}

func metrics(b bounds) []metric {
	return []metric{
		{name: "RSS", unit: "MiB", value: func(s sample) float64 { return float64(s.rssKiB) / 1024 }, bound: b.rssMiBPerHour},
		{name: "goroutines", value: func(s sample) float64 { return float64(s.goroutines) }, bound: b.goroutinesPerHour},
		{name: "open FDs", value: func(s sample) float64 { return float64(s.fds) }, bound: b.fdsPerHour},
		{name: "OS threads", value: func(s sample) float64 { return float64(s.threads) }},
	}
}

// trend is one metric of one replica over the run.
type trend struct {
	replica, metric, unit string
	start, warm, end      float64
	low, high             float64 // over the samples after the warm-up
	warmAt                time.Duration
	slope                 float64
	judged                bool // slope compared with bound
	bound                 float64
	measured              bool
	pass                  bool
}

// trends summarizes samples: the first, the first at or after warmup,
// the last, and the slope per hour of the samples from warmup on. The
// slope is judged only when those samples span at least minSpan (an
// hourly rate from a few minutes says little).
func trends(replica string, samples []sample, ms []metric, warmup, minSpan time.Duration) []trend {
	var out []trend
	if len(samples) == 0 {
		return out
	}
	w := len(samples) - 1
	for i, s := range samples {
		if s.at >= warmup {
			w = i
			break
		}
	}
	after := samples[w:]
	span := after[len(after)-1].at - after[0].at
	for _, m := range ms {
		t := trend{replica: replica, metric: m.name, unit: m.unit, bound: m.bound, measured: true, pass: true,
			start: m.value(samples[0]), warm: m.value(samples[w]), end: m.value(samples[len(samples)-1]), warmAt: samples[w].at}
		var xs []time.Duration
		var ys []float64
		for _, s := range after {
			if m.value(s) < 0 {
				t.measured = false
				break
			}
			xs, ys = append(xs, s.at), append(ys, m.value(s))
		}
		if len(ys) > 0 {
			t.low, t.high = slices.Min(ys), slices.Max(ys)
		}
		if t.measured {
			var ok bool
			t.slope, ok = slopePerHour(xs, ys)
			t.judged = ok && m.bound > 0 && span >= minSpan
			t.pass = !t.judged || t.slope <= m.bound
		}
		out = append(out, t)
	}
	return out
}
