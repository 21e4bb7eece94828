// Command pprofserve is `wpauthz serve --config-dir` for profiling: the same
// engine, configuration loader and gRPC server (authz/envoy), plus
// net/http/pprof on the HTTP listener, so that the load benchmark can take
// CPU and heap profiles of the check path under ghz load without the
// production binary growing a profiling endpoint:
//
//	go build -o bin/wpauthz-pprof ./test/bench/pprofserve
//	go run ./test/bench/driver -wpauthz bin/wpauthz-pprof -pprof /tmp/prof -rounds 1
//	go tool pprof -top bin/wpauthz-pprof /tmp/prof/jwt-es256-r1.cpu.pprof
//
// It accepts the serve flags the driver passes and ignores the others. It
// loads the folder once (no hot reload).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/envoy"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/configdir"
)

func main() {
	// The driver calls "<bin> serve --config-dir … --grpc-addr … --http-addr … --log-level …".
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("pprofserve", flag.ExitOnError)
	dir := fs.String("config-dir", "", "folder of resources")
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:9001", "gRPC listen address")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "readyz and /debug/pprof listen address")
	fs.String("log-level", "", "ignored")
	_ = fs.Parse(args)
	if err := run(*dir, *grpcAddr, *httpAddr); err != nil {
		fmt.Fprintln(os.Stderr, "pprofserve:", err)
		os.Exit(1)
	}
}

func run(dir, grpcAddr, httpAddr string) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loader, err := configdir.NewLoader(dir, log)
	if err != nil {
		return err
	}
	b, err := loader.Load()
	if err != nil {
		return err
	}
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		return fmt.Errorf("%d problems, first: %v", len(problems), problems[0])
	}
	engine := authz.New(authz.Options{Logger: log})
	engine.Swap(snap)

	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	g := envoy.NewGRPCServer(engine, log)
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
		switch name {
		case "profile":
			pprof.Profile(w, r)
		case "":
			pprof.Index(w, r)
		default:
			pprof.Handler(name).ServeHTTP(w, r)
		}
	})
	hs := &http.Server{Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		g.GracefulStop()
		hs.Close()
	}()
	go func() {
		if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http", "err", err)
		}
	}()
	return g.Serve(gl)
}
