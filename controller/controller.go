// Package controller turns WPApiPolicy, ApiKey and OAuthClient resources,
// and the Secrets they name, into the engine's immutable policy snapshot,
// and tells the truth about each resource in its status.
//
// Three kinds of runnables share one controller-runtime manager:
//
//   - ingest controllers, one per kind, run on every replica. They keep a
//     store of the current objects; a change to a referenced Secret
//     re-reconciles only the objects that name it (field indexes on the
//     referenced Secret names).
//   - the compiler runs on every replica (it needs no leader). Whenever the
//     store changes it compiles every resource with policy.Compile into a
//     new snapshot and swaps it into the engine. A resource whose current
//     version cannot be compiled is replaced by its last good version, so
//     an invalid change never half-applies and never takes away what was
//     enforced before, also across restarts: the leader keeps a copy of
//     every last good version in the manager's namespace (lastgood.go).
//   - status controllers, one per kind, run only on the elected leader
//     (a Lease). They write observedGeneration and the Accepted and Ready
//     conditions from the compiler's results, once per reconcile and only
//     when they change, record Events for notable changes, and generate
//     the key of an ApiKey that names no Secret.
package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// RBAC of the manager (config/rbac is generated from these markers by
// `make manifests`): read the three kinds and the Secrets they name, write
// their status, create and update the Secrets of generated API keys,
// record Events, and hold the status-writer Lease.
//
// +kubebuilder:rbac:groups=policy.wpauthz.io,resources=wpapipolicies;apikeys;oauthclients,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy.wpauthz.io,resources=wpapipolicies/status;apikeys/status;oauthclients/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// The Lease and the leader-election Events live in the manager's own
// namespace (config/default sets it; kustomize rewrites it there):
//
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=wpauthz,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups="",namespace=wpauthz,resources=events,verbs=create;patch
//
// So do the last good copies (Secrets; see lastgood.go):
//
// +kubebuilder:rbac:groups="",namespace=wpauthz,resources=secrets,verbs=get;list;watch;create;update;delete

// DefaultName is the default field owner of status writes and the
// reporting controller of Events.
const DefaultName = "wpauthz"

// Options configure the controllers.
type Options struct {
	// Compile are the process-wide compile settings (identity key).
	Compile policy.Options
	// Name is the field owner of status and Secret writes and the
	// reporting controller of Events; DefaultName when empty.
	Name string
	// Now is the clock for API key expiry in status (tests); time.Now
	// when nil.
	Now func() time.Time
	// OnSwap, when set, is called with every snapshot right after it is
	// swapped into the engine (to release what older snapshots held).
	OnSwap func(*policy.Snapshot)
	// StoreNamespace is the manager's own namespace, where the leader
	// keeps a copy of every resource's last good version and a starting
	// replica reads them (the Lease's namespace). Empty: last good
	// versions live in memory only and are lost on restart.
	StoreNamespace string
	// Namespaces are the namespaces the manager's cache watches; nil: all.
	// Copies of resources elsewhere are left alone.
	Namespaces []string
}

// Controller is the set of reconcilers feeding one engine.
type Controller struct {
	compiler *compiler
	store    *store
	name     string
	now      func() time.Time
	log      logr.Logger
}

// NewScheme returns a scheme with the core Kubernetes types and the
// policy.wpauthz.io types.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Setup registers the field indexes, the compiler and every controller
// with mgr. The engine starts receiving snapshots once mgr is started and
// its caches have synced; until then it refuses requests (and /readyz
// says so).
func Setup(ctx context.Context, mgr manager.Manager, engine *authz.Engine, opts Options) (*Controller, error) {
	c := &Controller{
		name: opts.Name,
		now:  opts.Now,
		log:  mgr.GetLogger().WithName("controller"),
	}
	if c.name == "" {
		c.name = DefaultName
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.store = newStore(mgr.GetCache())
	c.compiler = newCompiler(c.store, mgr.GetCache(), engine, opts.Compile, c.log.WithName("compiler"))
	c.compiler.onSwap = opts.OnSwap
	if opts.StoreNamespace != "" {
		copies, err := newCopyCache(ctx, mgr, opts.StoreNamespace, c.compiler.copyChanged)
		if err != nil {
			return nil, err
		}
		c.compiler.copies = copies
	}

	for _, k := range kinds {
		if err := mgr.GetFieldIndexer().IndexField(ctx, k.newObject(), secretIndex, func(o client.Object) []string {
			return k.secretNames(o)
		}); err != nil {
			return nil, fmt.Errorf("indexing %s by Secret: %w", k.name, err)
		}
	}
	if err := mgr.Add(c.compiler); err != nil {
		return nil, err
	}
	if opts.StoreNamespace != "" {
		if err := mgr.Add(&persister{
			c: c.compiler, client: client.WithFieldOwner(mgr.GetClient(), c.name), live: mgr.GetAPIReader(),
			namespace: opts.StoreNamespace, namespaces: opts.Namespaces, log: c.log.WithName("last-good"),
		}); err != nil {
			return nil, err
		}
	} else {
		c.log.Info("no namespace for last good copies: a refused resource's last good version is lost on restart")
	}
	for _, k := range kinds {
		if err := c.setupIngest(mgr, k); err != nil {
			return nil, fmt.Errorf("%s ingest controller: %w", k.name, err)
		}
		if err := c.setupStatus(mgr, k); err != nil {
			return nil, fmt.Errorf("%s status controller: %w", k.name, err)
		}
	}
	return c, nil
}

// Stats are counters for tests and reports.
type Stats struct {
	// Compiles is the number of snapshots compiled and swapped in.
	Compiles uint64
	// LastCompile is how long the last compile took (store read, compile,
	// last-good substitution, swap).
	LastCompile time.Duration
	// MaxCompile is the longest compile so far.
	MaxCompile time.Duration
	// StatusWrites is the number of status updates this replica sent.
	StatusWrites uint64
	// Resources is the number of resources in the store.
	Resources int
}

// Stats returns the counters.
func (c *Controller) Stats() Stats {
	s := c.compiler.stats()
	s.StatusWrites = c.compiler.statusWrites.Load()
	s.Resources = c.store.len()
	return s
}

// WaitForFirstSnapshot blocks until the first snapshot is in the engine.
func (c *Controller) WaitForFirstSnapshot(ctx context.Context) error {
	select {
	case <-c.compiler.firstDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// secretIndex is the field index of every kind: the names of the Secrets
// an object reads.
const secretIndex = ".wpauthz.secretNames"

var (
	_ manager.LeaderElectionRunnable = (*compiler)(nil)
	_ manager.LeaderElectionRunnable = (*persister)(nil)
)
