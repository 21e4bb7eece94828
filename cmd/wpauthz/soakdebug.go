//go:build soak

// The soak build (`go build -tags soak`, made by `make soak`) adds one
// read-only endpoint so that test/soak/driver can count the server's
// goroutines: the production binary has no metrics or profiling listener,
// and /proc shows only OS threads. It listens only when
// WPAUTHZ_SOAK_DEBUG_ADDR is set, and never in a release build.

package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"
)

func init() {
	addr := os.Getenv("WPAUTHZ_SOAK_DEBUG_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/goroutines", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	// The stacks, to see what grew when the count does.
	mux.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil {
			fmt.Fprintln(os.Stderr, "wpauthz: soak debug listener:", err)
		}
	}()
}
