package configdir

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkLoad loads one file of 2,000 ApiKeys and their Secrets (4,001
// documents, as the load benchmark's large configuration but in one file),
// the shape that used to load in quadratic time. Besides time and
// allocations it reports the heap that stays live with the loaded bundle.
// Profiles: go test -run - -bench Load -benchmem -memprofile mem.out ./configdir
func BenchmarkLoad(b *testing.B) {
	const keys = 2000
	var sb strings.Builder
	sb.WriteString(validPolicy)
	for i := range keys {
		fmt.Fprintf(&sb, `---
apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata:
  name: key-%05[1]d
  namespace: shop
spec:
  policyRef:
    name: shop
  roles: [shop_manager]
  secretRef:
    name: key-%05[1]d
    key: key
---
apiVersion: v1
kind: Secret
metadata:
  name: key-%05[1]d
  namespace: shop
type: Opaque
stringData:
  key: wpk_%032[1]d
`, i)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := NewLoader(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bundle, err := l.Load()
		if err != nil {
			b.Fatal(err)
		}
		if len(bundle.APIKeys) != keys || len(bundle.Secrets) != keys {
			b.Fatalf("loaded %d keys and %d secrets, want %d each", len(bundle.APIKeys), len(bundle.Secrets), keys)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-min(before, ms.HeapAlloc))/(1<<20), "live-MiB")
		runtime.KeepAlive(bundle)
		b.StartTimer()
	}
}
