package envoy

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/tap"

	"github.com/wpauthz/wpauthz/authz"
)

// ServiceName is the fully-qualified gRPC service Envoy calls; the health
// service reports on it as well as on "" (the whole server).
const ServiceName = "envoy.service.auth.v3.Authorization"

// MaxRequestBodyBytes is the largest request body wpauthz expects Envoy to
// buffer into a CheckRequest (with_request_body.max_request_bytes).
const MaxRequestBodyBytes = 1 << 20

// MaxCheckRequestBytes bounds one incoming CheckRequest: the body plus 1 MiB
// for headers, peer and metadata attributes (Envoy's own header limits are
// 60 KiB by default). Anything larger is rejected by gRPC before it is
// decoded, so a misbehaving client cannot make a replica allocate at will.
const MaxCheckRequestBytes = MaxRequestBodyBytes + 1<<20

// Keepalive settings. Envoy keeps one long-lived HTTP/2 connection per
// worker and may send keepalive pings (cluster
// http2_protocol_options.connection_keepalive); grpc-go's default
// enforcement (no pings more often than every 5 minutes, none without an
// active stream) would answer those with GOAWAY "too_many_pings" and drop
// the connection under load. The server pings idle clients itself to find
// dead connections.
var keepaliveEnforcement = keepalive.EnforcementPolicy{
	MinTime:             10 * time.Second,
	PermitWithoutStream: true,
}

// Limits bound what one client can hold on the gRPC listener. Zero
// durations mean no limit.
type Limits struct {
	// CheckTimeout bounds a unary call (Check, health Check) from its
	// headers to its answer, the wait for its message included: grpc-go
	// itself waits for a message as long as the client likes unless the
	// client sent grpc-timeout (Envoy sends its ext_authz timeout, 200 ms
	// by default; other clients need not). The shorter of the two wins.
	CheckTimeout time.Duration
	// IdleTimeout closes (GOAWAY, then close) a connection that has had
	// no call for this long. Envoy reconnects when it next needs one.
	IdleTimeout time.Duration
}

// Defaults for Limits.
const (
	DefaultCheckTimeout = 10 * time.Second
	DefaultIdleTimeout  = 5 * time.Minute
)

// DefaultLimits are the limits of a server started without flags.
func DefaultLimits() Limits {
	return Limits{CheckTimeout: DefaultCheckTimeout, IdleTimeout: DefaultIdleTimeout}
}

// handshakeTimeout bounds a new connection's HTTP/2 preface (and TLS,
// were there any); grpc-go's default is 2 minutes.
const handshakeTimeout = 10 * time.Second

// maxConcurrentStreams bounds the calls in flight on one connection (grpc-go:
// unlimited). Envoy opens another connection when it needs more.
const maxConcurrentStreams = 1024

// unaryMethods are the calls CheckTimeout bounds; reflection and health
// Watch are streams that may rightly stay open.
var unaryMethods = map[string]bool{
	authv3.Authorization_Check_FullMethodName: true,
	healthpb.Health_Check_FullMethodName:      true,
}

// limitOptions are the server options that apply l (a tap handle can be
// set only once, so they cannot be overridden by later options).
func limitOptions(l Limits) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:              time.Minute,
			Timeout:           20 * time.Second,
			MaxConnectionIdle: l.IdleTimeout,
		}),
		grpc.InTapHandle(callDeadline(l.CheckTimeout)),
	}
}

// callDeadline gives each unary call a deadline as its stream opens, so
// that it also covers the wait for the request message (an interceptor
// runs only once the message is in). The tap runs under the transport's
// lock: it only derives a context.
func callDeadline(d time.Duration) tap.ServerInHandle {
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		if d <= 0 || !unaryMethods[info.FullMethodName] {
			return ctx, nil
		}
		callCtx, cancel := context.WithTimeout(ctx, d)
		// ctx ends with the stream; release the timer then.
		context.AfterFunc(ctx, cancel)
		return callCtx, nil
	}
}

// ServerOptions are the options every wpauthz gRPC server starts with: the
// CheckRequest size bound, the keepalive settings, the handshake, stream
// and idle limits, the per-call deadline and a pool of stream workers. They are exported so that the do-nothing ext_authz server that
// load benchmarks compare against (test/bench/noop) runs on exactly the same
// transport settings.
//
// Stream workers: by default grpc-go starts a goroutine per call, whose
// stack then grows (copied, several times) through the transport's,
// protobuf's and the signature's deep frames; under load that was ~10% of
// the CPU profile (runtime.newstack/copystack), in wpauthz and in the
// do-nothing floor alike. Long-lived workers keep their grown stacks
// across calls. A worker is busy for the whole call, including the wait
// for the request's DATA frame, so there must be about as many as there
// are calls in flight (one per CPU left the copying as it was); when every
// worker is busy grpc-go falls back to a goroutine per call, so a slow
// check never queues others. Idle workers cost a few KiB of stack each.
func ServerOptions(l Limits) []grpc.ServerOption {
	return append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxCheckRequestBytes),
		grpc.KeepaliveEnforcementPolicy(keepaliveEnforcement),
		grpc.NumStreamWorkers(streamWorkers()),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
	}, limitOptions(l)...)
}

// streamWorkers is 16 per CPU, at least 128: an Envoy fleet keeps tens to
// hundreds of checks in flight per replica.
func streamWorkers() uint32 {
	return uint32(max(128, 16*runtime.GOMAXPROCS(0)))
}

// NewGRPCServer returns a gRPC server with the Check service, the standard
// health service (SERVING for "" and ServiceName) and server reflection
// registered, under DefaultLimits. opts are applied after the defaults
// (message size bound, keepalive), so they can override them. Use
// NewGRPCServerWithHealth when the caller needs other limits or to report
// NOT_SERVING at shutdown.
func NewGRPCServer(c authz.Checker, log *slog.Logger, opts ...grpc.ServerOption) *grpc.Server {
	g, _ := NewGRPCServerWithHealth(c, log, DefaultLimits(), opts...)
	return g
}

// NewGRPCServerWithHealth is NewGRPCServer that also returns the health
// server, so shutdown can flip it to NOT_SERVING (hs.Shutdown(), or
// GracefulStop below) before connections are drained: health-checking
// Envoys and kubelet gRPC probes then stop sending new checks here first.
func NewGRPCServerWithHealth(c authz.Checker, log *slog.Logger, l Limits, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	g := grpc.NewServer(append(ServerOptions(l), opts...)...)

	authv3.RegisterAuthorizationServer(g, NewServer(c, log))

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, hs)

	reflection.Register(g)
	return g, hs
}

// GracefulStop reports NOT_SERVING, then stops g gracefully, waiting for
// in-flight checks until ctx is done and stopping hard after that.
func GracefulStop(ctx context.Context, g *grpc.Server, hs *health.Server) {
	if hs != nil {
		hs.Shutdown()
	}
	done := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.Stop()
		<-done
	}
}
