package main

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// latencies is a histogram of check latencies with logarithmic buckets
// (20 per decade, ≈ 12 % wide) from 1 µs to 10 s: a run of millions of
// checks in constant memory, quantiles to within a bucket.
type latencies struct {
	buckets [perDecade*decades + 1]atomic.Int64
}

const (
	perDecade = 20
	decades   = 7 // 1 µs … 10 s
)

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(int(math.Ceil(math.Log10(us)*perDecade)), perDecade*decades)
}

// upper is bucket i's upper bound.
func upper(i int) time.Duration {
	return time.Duration(math.Pow(10, float64(i)/perDecade) * float64(time.Microsecond))
}

func (l *latencies) add(d time.Duration) { l.buckets[bucketOf(d)].Add(1) }

// quantile is the upper bound of the bucket holding the q-quantile; 0
// when empty.
func (l *latencies) quantile(q float64) time.Duration {
	var total int64
	for i := range l.buckets {
		total += l.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range l.buckets {
		seen += l.buckets[i].Load()
		if seen >= max(rank, 1) {
			return upper(i)
		}
	}
	return upper(len(l.buckets) - 1)
}

func (l *latencies) String() string {
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("p50 ≤ %s, p99 ≤ %s, p99.9 ≤ %s", r(l.quantile(0.5)), r(l.quantile(0.99)), r(l.quantile(0.999)))
}
