// Command noop is the floor of wpauthz's load benchmark: an Envoy ext_authz
// gRPC server that answers OK to every Check without looking at it.
//
// It runs on the same transport as wpauthz — grpc-go with the options
// authz/envoy gives every wpauthz server (message size bound, keepalive),
// the standard health service and server reflection (so ghz and grpcurl can
// call it without a .proto) — so that the difference between the two under
// the same load is the cost of wpauthz's own work: mapping the request,
// deciding, signing the identity assertion and building the response.
//
//	go run ./test/bench/noop --grpc-addr 127.0.0.1:9101
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/wpauthz/wpauthz/authz/envoy"
)

// okResponse is the one answer: allowed, no headers. It is built once and
// only ever read (marshalled), so sharing it between calls is safe.
var okResponse = &authv3.CheckResponse{
	Status:       &rpcstatus.Status{Code: int32(codes.OK)},
	HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
}

type noop struct {
	authv3.UnimplementedAuthorizationServer
}

func (noop) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return okResponse, nil
}

func main() {
	addr := flag.String("grpc-addr", "127.0.0.1:9101", "listen address")
	pprofAddr := flag.String("pprof-addr", "", "serve net/http/pprof on this address (off by default)")
	flag.Parse()
	if *pprofAddr != "" {
		go servePprof(*pprofAddr)
	}
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "noop:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	g := grpc.NewServer(envoy.ServerOptions(envoy.DefaultLimits())...)
	authv3.RegisterAuthorizationServer(g, noop{})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(envoy.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	reflection.Register(g)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		g.GracefulStop()
	}()
	fmt.Fprintln(os.Stderr, "noop: serving Envoy ext_authz on", lis.Addr())
	if err := g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// servePprof serves the runtime profiles, for comparing the floor's CPU
// profile with wpauthz's (the benchmark driver's -pprof option).
func servePprof(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "noop: pprof:", err)
	}
}
