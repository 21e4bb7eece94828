package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/wpusers"
	"github.com/wpauthz/wpauthz/controller"
)

// clusterOptions configure in-cluster mode (serve without --config-dir).
type clusterOptions struct {
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	watchNamespaces         []string
}

func addClusterFlags(f *pflag.FlagSet, o *clusterOptions) {
	f.BoolVar(&o.leaderElect, "leader-elect", true, "in-cluster mode: only the replica holding a Lease writes status and generates API keys (every replica serves)")
	f.StringVar(&o.leaderElectionID, "leader-election-id", "wpauthz-status", "in-cluster mode: name of the Lease")
	f.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "in-cluster mode: namespace of the Lease (default: $POD_NAMESPACE, else the pod's own from its service account; required out of cluster)")
	f.StringSliceVar(&o.watchNamespaces, "watch-namespace", nil, "in-cluster mode: read resources and Secrets only in this namespace (repeatable, or comma-separated; default: every namespace)")
}

// serviceAccountNamespaceFile is where Kubernetes mounts the pod's own
// namespace, next to its service account token.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// leaderElectionNamespace picks the Lease's namespace: the flag, else
// $POD_NAMESPACE (the chart sets it from the downward API), else the
// namespace of the pod's service account. Out of cluster none of these is
// there, and guessing ("default") would put a Lease where the operator did
// not choose and where the chart's RBAC does not reach, so it is an error
// that says which flag to set.
func leaderElectionNamespace(flag string, getenv func(string) string, saNamespaceFile string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if ns := getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	raw, err := os.ReadFile(saNamespaceFile)
	if err == nil && strings.TrimSpace(string(raw)) != "" {
		return strings.TrimSpace(string(raw)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("leader election: the pod's namespace: %w", err)
	}
	return "", errors.New("leader election needs a namespace for its Lease: set --leader-election-namespace (or $POD_NAMESPACE) when running out of cluster, or turn it off with --leader-elect=false")
}

// newClusterSource prepares in-cluster mode: a controller-runtime manager
// (kubeconfig from $KUBECONFIG, ~/.kube/config or the pod's service
// account) whose controllers feed engine. The returned function runs it
// until ctx ends.
func newClusterSource(ctx context.Context, o clusterOptions, log *slog.Logger, engine *authz.Engine, compileOpts policy.Options, onSwap func(*policy.Snapshot)) (func(context.Context) error, error) {
	logger := logr.FromSlogHandler(log.Handler())
	ctrllog.SetLogger(logger)
	klog.SetLogger(logger)
	cfg, err := ctrlconfig.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster mode (no --config-dir): %w", err)
	}
	leaseNamespace := o.leaderElectionNamespace
	if o.leaderElect {
		if leaseNamespace, err = leaderElectionNamespace(o.leaderElectionNamespace, os.Getenv, serviceAccountNamespaceFile); err != nil {
			return nil, err
		}
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		return nil, err
	}
	watch := watchedNamespaces(o.watchNamespaces)
	for _, ns := range watch {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--watch-namespace %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
	}
	// Managed fields are large and never read.
	cacheOpts := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if watch != nil {
		// Only these namespaces are listed and watched, so namespaced
		// Roles are enough.
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range watch {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        logger,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0", // /healthz and /readyz are on --http-addr
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       leaseNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("in-cluster mode: %w", err)
	}
	if _, err := controller.Setup(ctx, mgr, engine, controller.Options{Compile: compileOpts, OnSwap: onSwap,
		StoreNamespace: leaseNamespace, Namespaces: watch}); err != nil {
		return nil, fmt.Errorf("in-cluster mode: %w", err)
	}
	log.Info("in-cluster mode: policies from the Kubernetes API", "host", cfg.Host, "leaderElection", o.leaderElect, "leaseNamespace", leaseNamespace, "watchNamespaces", watch)
	return mgr.Start, nil
}

// watchedNamespaces cleans up --watch-namespace values: blanks dropped,
// duplicates removed, sorted; nil means every namespace.
func watchedNamespaces(flags []string) []string {
	var out []string
	for _, ns := range flags {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// retainInUse keeps the user directories of snap's policies and lets the
// pool close the others.
func retainInUse(users *wpusers.Pool, snap *policy.Snapshot) {
	var inUse []*wpusers.Directory
	for _, p := range snap.Policies() {
		if p.Users != nil {
			inUse = append(inUse, p.Users)
		}
	}
	users.Retain(inUse)
}
