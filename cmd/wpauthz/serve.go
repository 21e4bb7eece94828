package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/envoy"
	"github.com/wpauthz/wpauthz/authz/httpauth"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/listener"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/authz/tokenservice"
	"github.com/wpauthz/wpauthz/authz/usernotify"
	"github.com/wpauthz/wpauthz/authz/wpusers"
	"github.com/wpauthz/wpauthz/configdir"
)

type serveOptions struct {
	configDir         string
	grpcAddr          string
	httpAddr          string
	internalAddr      string
	identityKeyFile   string
	allowUnknownHosts bool
	trustedProxyHops  int
	shutdownTimeout   time.Duration
	http              listener.Limits
	grpc              envoy.Limits
	logLevel          string
	logFormat         string
	cluster           clusterOptions
	redis             redisOptions
}

type redisOptions struct {
	url          string
	mode         string
	passwordFile string
	caFile       string
	certFile     string
	keyFile      string
	prefix       string
	maxStaleness time.Duration
	callTimeout  time.Duration
	// maxFamilies bounds the in-memory store (without Redis).
	maxFamilies int
}

func newServeCommand() *cobra.Command {
	o := serveOptions{http: listener.Limits{ReadHeaderTimeout: listener.DefaultReadHeaderTimeout}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve Envoy ext_authz (gRPC) and HTTP forward-auth checks",
		Long: `Serve answers Envoy/Istio ext_authz Check calls on --grpc-addr and
nginx/Traefik/Caddy/Envoy HTTP checks on --http-addr.

With --config-dir it runs standalone: policies, keys and Secrets come from the
*.yaml files in that folder, validated with the CRD schemas and reloaded when
the folder changes.

Without --config-dir it runs in a cluster: the resources come from the
Kubernetes API (kubeconfig from $KUBECONFIG, ~/.kube/config or the pod's
service account). Every replica compiles and serves; the replica holding the
--leader-election-id Lease writes status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.configDir, "config-dir", "", "standalone mode: folder of WPApiPolicy/ApiKey/OAuthClient/Secret YAML")
	f.StringVar(&o.grpcAddr, "grpc-addr", ":9001", "Envoy ext_authz gRPC listen address")
	f.StringVar(&o.httpAddr, "http-addr", ":8080", "HTTP check, health and token endpoints listen address")
	f.StringVar(&o.internalAddr, "internal-addr", "", "listen address for calls from WordPress, e.g. :8081 (the bridge plugin's user-change notifications, POST /v1/user-changed); never route it from the public side; empty: off")
	f.StringVar(&o.identityKeyFile, "identity-key", "", "Ed25519 private key (PKCS#8 PEM or 32-byte seed) signing X-WPAuthz-Identity for policies without their own key")
	f.BoolVar(&o.allowUnknownHosts, "allow-unknown-hosts", false, "forward requests for hosts no policy covers, without identity (default: refuse them)")
	f.IntVar(&o.trustedProxyHops, "trusted-proxy-hops", 0, "proxies in front of the token endpoints whose X-Forwarded-For entries are trusted for login throttling (0: the peer address)")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight checks may take to finish on SIGTERM")
	f.DurationVar(&o.http.ReadTimeout, "http-read-timeout", listener.DefaultReadTimeout, "HTTP listeners: longest wait for a whole request, headers and body; slower clients are cut off")
	f.DurationVar(&o.http.WriteTimeout, "http-write-timeout", listener.DefaultWriteTimeout, "HTTP listeners: longest time from a request's headers to the end of its answer")
	f.DurationVar(&o.http.IdleTimeout, "http-idle-timeout", listener.DefaultIdleTimeout, "HTTP listeners: keep-alive connections idle this long are closed")
	f.IntVar(&o.http.MaxBodyReads, "http-max-body-reads", listener.DefaultMaxBodyReads, "HTTP listeners: requests with a body served at once, per listener; more are refused with 503 wpauthz_busy (0: no cap)")
	f.DurationVar(&o.grpc.CheckTimeout, "grpc-check-timeout", envoy.DefaultCheckTimeout, "gRPC listener: longest time from a call's headers to its answer, the wait for its message included")
	f.DurationVar(&o.grpc.IdleTimeout, "grpc-idle-timeout", envoy.DefaultIdleTimeout, "gRPC listener: connections without a call for this long are closed (GOAWAY)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "json", "json or text")
	f.StringVar(&o.redis.url, "redis-url", "", "Redis holding token state shared by replicas (redis:// or rediss://; see README \"Shared state\"); empty: in memory, one replica")
	f.StringVar(&o.redis.mode, "redis-mode", "single", "single, cluster (more seeds as ?addr=host:port) or sentinel (?master_name=NAME)")
	f.StringVar(&o.redis.passwordFile, "redis-password-file", "", "file holding the Redis password (a mounted Secret); overrides the URL's")
	f.StringVar(&o.redis.caFile, "redis-ca-file", "", "PEM CAs that sign the Redis servers' certificates (rediss:// only); empty: the system's roots")
	f.StringVar(&o.redis.certFile, "redis-cert-file", "", "PEM client certificate, for Redis servers that require one (with --redis-key-file)")
	f.StringVar(&o.redis.keyFile, "redis-key-file", "", "PEM key of --redis-cert-file")
	f.StringVar(&o.redis.prefix, "redis-prefix", "wpauthz:", "prefix of every Redis key and channel")
	f.IntVar(&o.redis.maxFamilies, "memory-max-logins", store.DefaultMaxFamilies, "without Redis: the refresh-token families (logins) kept in memory, all users together; at the bound each new login revokes the oldest")
	f.DurationVar(&o.redis.maxStaleness, "redis-max-staleness", 30*time.Second, "while Redis is unreachable, how long bearer checks keep answering from the local revocation view before failing closed")
	f.DurationVar(&o.redis.callTimeout, "redis-call-timeout", redisstore.DefaultCallTimeout, "longest wait for Redis on a request (login, refresh, revoke, Basic checks); past it, or while Redis is known to be unreachable, they answer 503 wpauthz_unavailable")
	addClusterFlags(f, &o.cluster)
	return cmd
}

func serve(ctx context.Context, o serveOptions) error {
	log, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	var compileOpts policy.Options
	if o.identityKeyFile != "" {
		raw, err := os.ReadFile(o.identityKeyFile)
		if err != nil {
			return fmt.Errorf("--identity-key: %w", err)
		}
		if compileOpts.IdentityKey, err = identity.ParseSigningKey(raw); err != nil {
			return fmt.Errorf("--identity-key %s: %w", o.identityKeyFile, err)
		}
	}

	// Token state: in Redis when --redis-url is given (shared by the
	// replicas), else in memory (one replica). The user directories
	// (database pools, caches) survive policy reloads, and forget a user
	// whose tokens are revoked.
	st, closeStore, err := newStore(o.redis, log)
	if err != nil {
		return err
	}
	defer closeStore()
	users := wpusers.NewPool()
	defer users.Close()
	compileOpts.Users = users
	defer st.Subscribe(func(ev store.Event) {
		if ev.Kind == store.SubjectRevoked {
			if id, ok := policy.SubjectUserID(ev.Subject); ok {
				users.ForgetUser(id)
			}
		}
	})()
	engine := authz.New(authz.Options{Logger: log, AllowUnknownHosts: o.allowUnknownHosts, Store: st})
	tokens := tokenservice.New(tokenservice.Options{
		Snapshot: engine.Snapshot, Store: st, Log: log, ClientIP: tokenservice.ForwardedIP(o.trustedProxyHops),
	})
	var (
		loader     *configdir.Loader
		runCluster func(context.Context) error
	)
	if o.configDir != "" {
		if loader, err = configdir.NewLoader(o.configDir, log); err != nil {
			return err
		}
	} else if runCluster, err = newClusterSource(ctx, o.cluster, log, engine, compileOpts, func(snap *policy.Snapshot) { retainInUse(users, snap) }); err != nil {
		return err
	}

	// Listen before loading so that a port clash fails fast, but answer
	// checks only once the first snapshot is in (the engine refuses with
	// 503 until then, and readiness says so).
	grpcLis, err := net.Listen("tcp", o.grpcAddr)
	if err != nil {
		return fmt.Errorf("--grpc-addr: %w", err)
	}
	httpLis, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("--http-addr: %w", err)
	}

	// The internal listener is for WordPress only: never routed from the
	// public side, each call signed with the site's own key.
	var internalLis net.Listener
	if o.internalAddr != "" {
		if internalLis, err = net.Listen("tcp", o.internalAddr); err != nil {
			grpcLis.Close()
			httpLis.Close()
			return fmt.Errorf("--internal-addr: %w", err)
		}
	}
	internalLimits, publicLimits := o.http, o.http
	internalLimits.MaxHeaderBytes, publicLimits.MaxHeaderBytes = 16<<10, 64<<10
	internalSrv := listener.NewServer(&usernotify.Handler{Snapshot: engine.Snapshot, Store: st, Log: log}, internalLimits, log)
	grpcSrv, health := envoy.NewGRPCServerWithHealth(engine, log, o.grpc)
	httpSrv := listener.NewServer(newHTTPMux(engine, tokens, log, st), publicLimits, log)

	g, ctx := errgroup.WithContext(ctx)
	watchErr := make(chan error, 1)
	if runCluster != nil {
		g.Go(func() error { return runCluster(ctx) })
	}
	g.Go(func() error {
		if loader == nil {
			return nil
		}
		err := loader.Watch(ctx, func(b policy.Bundle) error {
			snap, problems := policy.Compile(b, compileOpts)
			if len(problems) > 0 {
				errs := make([]error, len(problems))
				for i, p := range problems {
					errs[i] = p
				}
				return errors.Join(errs...)
			}
			engine.Swap(snap)
			var inUse []*wpusers.Directory
			for _, p := range snap.Policies() {
				if p.Users != nil {
					inUse = append(inUse, p.Users)
				}
			}
			users.Retain(inUse)
			log.Info("policy loaded", "policies", len(snap.Policies()), "dir", o.configDir)
			// Loading left garbage several times the size of what is kept:
			// hand it back to the OS now rather than over minutes.
			debug.FreeOSMemory()
			return nil
		})
		watchErr <- err
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("config folder: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		log.Info("serving Envoy ext_authz", "addr", grpcLis.Addr().String())
		return grpcSrv.Serve(grpcLis)
	})
	g.Go(func() error {
		log.Info("serving HTTP checks", "addr", httpLis.Addr().String())
		if err := httpSrv.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if internalLis != nil {
		g.Go(func() error {
			log.Info("serving WordPress notifications", "addr", internalLis.Addr().String())
			if err := internalSrv.Serve(internalLis); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		<-ctx.Done()
		log.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
		defer cancel()
		stopped := make(chan struct{})
		go func() { envoy.GracefulStop(shutdownCtx, grpcSrv, health); close(stopped) }()
		herr := httpSrv.Shutdown(shutdownCtx)
		ierr := internalSrv.Shutdown(shutdownCtx)
		<-stopped
		return errors.Join(herr, ierr)
	})
	err = g.Wait()
	select {
	case werr := <-watchErr:
		if werr != nil && err == nil && !errors.Is(werr, context.Canceled) {
			err = werr
		}
	default:
	}
	return err
}

// newHTTPMux serves the HTTP checks plus liveness and readiness. The
// checks are routed before any http.ServeMux sees the request: ServeMux
// "cleans" paths (redirecting "//" and ".." away), and a check must see the
// original request-target exactly as sent.
//
// The token endpoints ({restPrefix}/api/v1/token…, /.well-known/…) come
// next, also before the ServeMux, for every host that has a policy.
func newHTTPMux(engine *authz.Engine, tokens *tokenservice.Service, log *slog.Logger, st store.Store) http.Handler {
	healthy, _ := st.(interface{ Healthy() bool })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !engine.Ready() {
			http.Error(w, "no policy loaded", http.StatusServiceUnavailable)
			return
		}
		if healthy != nil && !healthy.Healthy() {
			http.Error(w, "redis unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return httpauth.Route(httpauth.NewHandler(engine, log), tokenservice.Route(tokens, mux))
}

// newStore opens the token state store: Redis when o.url is set, memory
// otherwise. The returned function closes it.
func newStore(o redisOptions, log *slog.Logger) (store.Store, func(), error) {
	if o.url == "" {
		return store.NewMemoryWith(store.MemoryOptions{MaxFamilies: o.maxFamilies, Logger: log}), func() {}, nil
	}
	copts := redisstore.ClientOptions{URL: o.url, Mode: o.mode, CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile}
	if o.passwordFile != "" {
		raw, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--redis-password-file: %w", err)
		}
		copts.Password = strings.TrimRight(string(raw), "\r\n")
	}
	rdb, err := redisstore.NewClient(copts)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-url: %w", err)
	}
	st := redisstore.New(rdb, redisstore.Options{Prefix: o.prefix, MaxStaleness: o.maxStaleness, CallTimeout: o.callTimeout, Logger: log})
	return st, func() { st.Close(); rdb.Close() }, nil
}

// splitNamespacedName parses "namespace/name" or "name" (namespace default).
func splitNamespacedName(s string) (string, string) {
	if ns, name, ok := strings.Cut(s, "/"); ok {
		return ns, name
	}
	return "default", s
}
