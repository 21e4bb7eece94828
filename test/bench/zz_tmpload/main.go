package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/configdir"
)

func live(tag string) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	var hwm string
	fmt.Sscanf(string(b[len(b)-len(b):]), "%s", &hwm)
	fmt.Printf("%-22s live %5.1f MiB  heapsys %5.1f  totalalloc %6.0f MiB\n", tag, float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapSys)/(1<<20), float64(ms.TotalAlloc)/(1<<20))
}

func main() {
	if len(os.Args) > 2 {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(1 << 40)
	}
	live("start")
	t := time.Now()
	l, err := configdir.NewLoader(os.Args[1], slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	live("newloader")
	b, err := l.Load()
	if err != nil {
		panic(err)
	}
	live("load")
	snap, probs := policy.Compile(b, policy.Options{})
	live("compile+bundle")
	b = policy.Bundle{}
	live("compile only")
	fmt.Println(time.Since(t), len(snap.Policies()), len(probs))
	hf, _ := os.Create("/tmp/load.heap")
	pprof.WriteHeapProfile(hf)
	runtime.KeepAlive(snap)
	runtime.KeepAlive(l)
	st, _ := os.ReadFile("/proc/self/status")
	os.Stdout.Write(st)
}
