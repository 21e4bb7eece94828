package controller

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// TestScale loads 100 policies (each with its JWT keys Secret) and 1,000
// ApiKeys (each with its key Secret) and reports what it costs one
// replica: time until everything is enforced and every status written,
// compile times, the cold start of a fresh replica on that data, its heap
// and RSS, and the apply-to-enforced delay of single changes at that size.
// It asserts correctness only (every key authenticates); the numbers are
// logged. Not parallel, so that the heap it measures is its own.
func TestScale(t *testing.T) {
	needEnv(t)
	if testing.Short() {
		t.Skip("-short")
	}
	const policies, keysPerPolicy = 100, 10
	ns := newNamespace(t)
	ctx := context.Background()

	a := startManager(t, []string{ns}, managerOptions{name: "scale-a"})
	keys := make([]string, policies*keysPerPolicy)
	for i := range keys {
		keys[i] = newKey(t)
	}
	host := func(p int) string { return fmt.Sprintf("p%d.%s.example.com", p, ns) }

	start := time.Now()
	work := make(chan client.Object)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var createErr error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := k8s.Create(ctx, o); err != nil {
					mu.Lock()
					createErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for p := range policies {
		work <- secret(ns, "jwt-"+strconv.Itoa(p), map[string]string{"a": hs256KeyA})
		work <- testPolicy(ns, "p"+strconv.Itoa(p), host(p), "jwt-"+strconv.Itoa(p))
	}
	for i, key := range keys {
		name := "k" + strconv.Itoa(i)
		work <- secret(ns, name, map[string]string{"key": key})
		work <- testAPIKey(ns, name, "p"+strconv.Itoa(i%policies), name, "shop_manager")
	}
	close(work)
	wg.Wait()
	if createErr != nil {
		t.Fatal(createErr)
	}
	created := time.Since(start)

	keyReq := func(i int) request {
		return req("GET", host(i%policies), "/wp-json/wc/v3/orders", "X-API-Key", keys[i])
	}
	eventually(t, 2*time.Minute, func() error {
		for i := range keys {
			if got, code := decide(a.engine, keyReq(i)); got != 200 {
				return fmt.Errorf("key %d: %d %s", i, got, code)
			}
		}
		return nil
	})
	enforced := time.Since(start)
	eventually(t, 3*time.Minute, func() error {
		var list v1alpha1.ApiKeyList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		ready := 0
		for _, k := range list.Items {
			if meta.IsStatusConditionTrue(k.Status.Conditions, v1alpha1.ConditionReady) && k.Status.ObservedGeneration == k.Generation {
				ready++
			}
		}
		if ready != len(keys) {
			return fmt.Errorf("%d of %d ApiKeys Ready", ready, len(keys))
		}
		return nil
	})
	statused := time.Since(start)
	sa := a.ctl.Stats()
	t.Logf("scale: %d policies + %d ApiKeys + %d Secrets created in %s; all keys enforced after %s; all statuses written after %s (%d status writes)",
		policies, len(keys), policies+len(keys), created.Round(time.Millisecond), enforced.Round(time.Millisecond), statused.Round(time.Millisecond), sa.StatusWrites)
	t.Logf("scale: %d compiles while loading; last compile (%d resources) %s, slowest %s",
		sa.Compiles, sa.Resources, sa.LastCompile.Round(time.Microsecond), sa.MaxCompile.Round(time.Microsecond))
	a.stop()

	// A fresh replica on the loaded API server: cold start and memory.
	heap0, _ := heapInUse()
	coldStart := time.Now()
	b := startManager(t, []string{ns}, managerOptions{name: "scale-b"})
	cold := time.Since(coldStart)
	for i := range keys {
		mustStatus(t, b.engine, keyReq(i), 200)
	}
	heap1, rss := heapInUse()
	sb := b.ctl.Stats()
	t.Logf("scale: a fresh replica had its first snapshot (%d resources) %s after start (cache sync + compile %s); heap in use %.1f MiB (Δ %.1f MiB for this replica), process RSS %.1f MiB",
		sb.Resources, cold.Round(time.Millisecond), sb.LastCompile.Round(time.Microsecond), mib(heap1), mib(heap1-heap0), mib(rss))

	// Single changes at this size: a key disabled, a rule changed.
	var delays []string
	for i := range 5 {
		k := testAPIKey(ns, "k"+strconv.Itoa(i), "", "")
		update(t, k, func(k *v1alpha1.ApiKey) { k.Spec.Disabled = true })
		t0 := time.Now()
		wantStatus(t, b.engine, keyReq(i), 401)
		delays = append(delays, time.Since(t0).Round(time.Microsecond).String())
		p := &v1alpha1.WPApiPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p" + strconv.Itoa(i)}}
		update(t, p, func(p *v1alpha1.WPApiPolicy) {
			p.Spec.Rules[0].Action, p.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
		})
		t0 = time.Now()
		wantStatus(t, b.engine, get(host(i), "/wp-json/wp/v2/posts"), 404)
		delays = append(delays, time.Since(t0).Round(time.Microsecond).String())
	}
	sb = b.ctl.Stats()
	t.Logf("scale: apply-to-enforced of single changes at this size: %s; last compile %s, slowest %s",
		strings.Join(delays, " "), sb.LastCompile.Round(time.Microsecond), sb.MaxCompile.Round(time.Microsecond))
}

// heapInUse returns the Go heap in use after a GC, and the process RSS.
func heapInUse() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(f), " kB"), 10, 64)
				rss = kb << 10
			}
		}
	}
	return m.HeapInuse, rss
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
