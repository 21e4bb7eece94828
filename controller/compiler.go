package controller

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// Result is what the last compile made of one resource.
type Result struct {
	UID types.UID
	// Generation is the generation of the current version that was compiled.
	Generation int64
	// Problem says why the current version was refused; nil when accepted.
	Problem *policy.Problem
	// InForce is true when some version of the resource is in the
	// engine's snapshot: the current one, or (LastGood) the last good one.
	InForce  bool
	LastGood bool
	// InForceGeneration is the generation of the version in force.
	InForceGeneration int64
	// Fingerprint identifies the API key in force (ApiKey only).
	Fingerprint string
}

// good is the last version of a resource that compiled, with copies of the
// Secrets it compiled with, renamed so that they cannot clash with the
// Secrets of current versions.
type good struct {
	uid        types.UID
	generation int64
	sig        string
	obj        client.Object
	secrets    []*corev1.Secret
	// fingerprint of the API key (ApiKey only).
	fingerprint string
	// srcObj and srcSecrets are what obj and secrets were made from (the
	// Secrets with only the keys the compile reads): the last good copy.
	srcObj     client.Object
	srcSecrets []*corev1.Secret
}

// compiler builds snapshots from the store. It runs on every replica.
type compiler struct {
	store  *store
	reader client.Reader
	cache  cache.Cache
	engine *authz.Engine
	opts   policy.Options
	log    logr.Logger
	onSwap func(*policy.Snapshot)

	// lastGood is owned by the compile loop.
	lastGood map[objKey]*good

	// copies caches the leader's last good copies (lastgood.go); nil: last
	// good versions live in memory only. copyMemo (owned by the compile
	// loop) keeps each decoded copy by Secret name and resource version.
	copies   cache.Cache
	copyMemo map[string]decodedCopy
	// goodsChanged has room for one signal: the last good versions changed.
	goodsChanged chan struct{}

	firstDone chan struct{}

	mu      sync.Mutex
	results map[objKey]Result
	// published are the last good versions as of the last compile.
	published map[objKey]*good
	queues    map[string]workqueue.TypedRateLimitingInterface[reconcile.Request]
	st        Stats

	statusWrites atomic.Uint64
}

func newCompiler(s *store, c cache.Cache, engine *authz.Engine, opts policy.Options, log logr.Logger) *compiler {
	return &compiler{
		store: s, reader: c, cache: c, engine: engine, opts: opts, log: log,
		lastGood:     map[objKey]*good{},
		firstDone:    make(chan struct{}),
		goodsChanged: make(chan struct{}, 1),
		results:      map[objKey]Result{},
		queues:       map[string]workqueue.TypedRateLimitingInterface[reconcile.Request]{},
	}
}

// NeedLeaderElection: every replica compiles its own snapshot.
func (c *compiler) NeedLeaderElection() bool { return false }

// Start compiles the first snapshot once every resource has been read,
// then compiles again whenever the store changes.
func (c *compiler) Start(ctx context.Context) error {
	// Read every resource before the first compile, so that the first
	// snapshot is whole: policies without their keys would refuse keys
	// that work.
	for _, k := range kinds {
		list := k.newList()
		if err := c.reader.List(ctx, list); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("listing %s: %w", k.name, err)
		}
		for _, o := range k.listItems(list) {
			nn := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
			if err := c.store.refresh(ctx, k, nn); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("reading %s %s: %w", k.name, nn, err)
			}
		}
	}
	// The refreshes above signalled; the first compile covers them.
	select {
	case <-c.store.changed:
	default:
	}
	// What the replicas before this one accepted, for the resources whose
	// current version is refused: the first snapshot has them.
	if c.copies != nil && !c.copies.WaitForCacheSync(ctx) {
		return nil
	}
	for {
		if err := c.compile(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A cache read failed (it does not, short of shutdown): try again
			// on the next change, keeping the snapshot in force.
			c.log.Error(err, "compiling snapshot")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.store.changed:
		}
	}
}

// input is one resource as it goes into a compile.
type input struct {
	e *entry
	// obj is what is compiled: the cached object, or for a generated
	// ApiKey a copy with secretRef naming the generated Secret.
	obj     client.Object
	secrets []*corev1.Secret
}

func (c *compiler) compile(ctx context.Context) error {
	start := time.Now()
	entries := c.store.entries()
	inputs := make(map[objKey]*input, len(entries))
	for _, e := range entries {
		in, err := c.input(ctx, e)
		if err != nil {
			return err
		}
		inputs[e.key] = in
	}
	// Forget last good versions of resources that are gone (or were
	// deleted and created again under the same name).
	for k, g := range c.lastGood {
		if in, ok := inputs[k]; !ok || in.e.uid != g.uid {
			delete(c.lastGood, k)
		}
	}
	// The last good version of each resource: this replica's, or the
	// leader's copy when that is newer (this replica may have missed a
	// version the leader accepted, or started after it).
	copies, err := c.readCopies(ctx)
	if err != nil {
		return err
	}
	chosen := make(map[objKey]*good, len(inputs))
	for k, in := range inputs {
		if g := pickGood(c.lastGood[k], copies[k]); g != nil && g.uid == in.e.uid {
			chosen[k] = g
		}
	}

	// Compile the current versions; replace each refused resource by its
	// last good version and compile again, until nothing more can be
	// replaced. Policies are replaced first, one round before keys and
	// clients, because keys and clients depend on policies (an ApiKey of
	// a refused policy is refused too, but is fine once the policy's last
	// good version is back) and not the other way round.
	subst := map[objKey]bool{}
	refused := map[objKey]policy.Problem{}
	var (
		snap     *policy.Snapshot
		problems map[objKey]policy.Problem
	)
	for round := 0; ; round++ {
		var list []policy.Problem
		snap, list = policy.Compile(c.bundle(inputs, subst, chosen), c.opts)
		problems = make(map[objKey]policy.Problem, len(list))
		for _, p := range list {
			problems[objKey{Kind: p.Kind, Namespace: p.Namespace, Name: p.Name}] = p
		}
		var pols, others []objKey
		for k, p := range problems {
			if subst[k] || !mayUseLastGood(inputs[k], p, chosen) {
				continue
			}
			if k.Kind == kindPolicy {
				pols = append(pols, k)
			} else {
				others = append(others, k)
			}
		}
		pick := pols
		if len(pick) == 0 {
			pick = others
		}
		if len(pick) == 0 || round > 2*len(inputs) {
			break
		}
		for _, k := range pick {
			subst[k] = true
			refused[k] = problems[k]
		}
	}

	results := make(map[objKey]Result, len(inputs))
	// goods are the last good versions after this compile: what the
	// leader's copies should hold.
	goods := maps.Clone(chosen)
	for k, in := range inputs {
		r := Result{UID: in.e.uid, Generation: in.e.generation}
		p, bad := problems[k]
		switch {
		case subst[k]:
			rp := refused[k]
			r.Problem = &rp
			if !bad {
				g := chosen[k]
				r.InForce, r.LastGood, r.InForceGeneration, r.Fingerprint = true, true, g.generation, g.fingerprint
			}
		case bad:
			r.Problem = &p
		default:
			r.InForce, r.InForceGeneration = true, in.e.generation
			g := c.lastGood[k]
			if g == nil || g.sig != in.e.sig {
				g = c.remember(in)
				c.lastGood[k] = g
			}
			goods[k] = g
			r.Fingerprint = g.fingerprint
		}
		results[k] = r
	}

	c.engine.Swap(snap)
	if c.onSwap != nil {
		c.onSwap(snap)
	}
	elapsed := time.Since(start)
	first := c.publish(results, elapsed)
	c.mu.Lock()
	changed := first || !maps.Equal(goods, c.published)
	c.published = goods
	c.mu.Unlock()
	if changed {
		select {
		case c.goodsChanged <- struct{}{}:
		default:
		}
	}
	if first {
		close(c.firstDone)
		c.log.Info("first snapshot in force", "resources", len(inputs), "policies", len(snap.Policies()), "refused", len(problems), "took", elapsed)
	} else {
		c.log.V(1).Info("snapshot in force", "resources", len(inputs), "policies", len(snap.Policies()), "refused", len(problems), "took", elapsed)
	}
	return nil
}

// mayUseLastGood reports whether a refused resource may be replaced by its
// last good version. A generated API key whose Secret is gone is not: the
// Secret was deleted to rotate the key, and the old key must stop working.
func mayUseLastGood(in *input, p policy.Problem, chosen map[objKey]*good) bool {
	if in == nil {
		return false
	}
	g, ok := chosen[in.e.key]
	if !ok || g.uid != in.e.uid {
		return false
	}
	return !(in.e.generated && p.Reason == v1alpha1.ReasonSecretNotFound)
}

// input reads the Secrets a resource names from the cache.
func (c *compiler) input(ctx context.Context, e *entry) (*input, error) {
	in := &input{e: e, obj: e.obj}
	if e.generated {
		k := e.obj.(*v1alpha1.ApiKey).DeepCopy()
		k.Spec.SecretRef = &v1alpha1.SecretKeySelector{Name: GeneratedSecretName(k.Name), Key: GeneratedSecretKey}
		in.obj = k
	}
	for _, name := range e.kind.secretNames(e.obj) {
		s := &corev1.Secret{}
		err := c.reader.Get(ctx, types.NamespacedName{Namespace: e.key.Namespace, Name: name}, s)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// A generated key is only ever read from the Secret this ApiKey
		// controls: a Secret someone else put under that name is ignored.
		if e.generated && !metav1.IsControlledBy(s, e.obj) {
			continue
		}
		in.secrets = append(in.secrets, s)
	}
	return in, nil
}

// remember records the current version of a resource as its last good one.
func (c *compiler) remember(in *input) *good {
	return newGood(in.e.key, in.e.uid, in.e.generation, in.e.sig, in.e.kind, in.obj, minimalSecrets(in.obj, in.secrets))
}

// newGood makes a last good version of the resource k from obj and the
// Secrets it compiled with (as minimalSecrets leaves them).
func newGood(k objKey, uid types.UID, generation int64, sig string, kd *kind, obj client.Object, secrets []*corev1.Secret) *good {
	rename := func(secret string) string {
		// "~" never appears in a Kubernetes name.
		return "~" + k.Kind + "~" + k.Name + "~" + secret
	}
	g := &good{uid: uid, generation: generation, sig: sig, obj: kd.renameSecrets(obj, rename), srcObj: obj, srcSecrets: secrets}
	for _, s := range secrets {
		g.secrets = append(g.secrets, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: rename(s.Name)},
			Data:       s.Data,
		})
	}
	if k, ok := obj.(*v1alpha1.ApiKey); ok && k.Spec.SecretRef != nil {
		for _, s := range secrets {
			if s.Name == k.Spec.SecretRef.Name {
				g.fingerprint = fingerprint(s, k.Spec.SecretRef.Key)
			}
		}
	}
	return g
}

// fingerprint is the non-secret fingerprint of the API key in s[key].
func fingerprint(s *corev1.Secret, key string) string {
	v, ok := s.StringData[key]
	if !ok {
		v = string(s.Data[key])
	}
	return apikey.Sum(strings.TrimSpace(v)).Fingerprint()
}

// bundle assembles the compiler's input: current versions, except the
// substituted ones, which come in their last good version.
func (c *compiler) bundle(inputs map[objKey]*input, subst map[objKey]bool, chosen map[objKey]*good) policy.Bundle {
	var b policy.Bundle
	seen := map[string]bool{}
	addSecrets := func(ss []*corev1.Secret) {
		for _, s := range ss {
			id := s.Namespace + "/" + s.Name
			if !seen[id] {
				seen[id] = true
				b.Secrets = append(b.Secrets, *s)
			}
		}
	}
	for k, in := range inputs {
		obj, secrets := in.obj, in.secrets
		if subst[k] {
			g := chosen[k]
			obj, secrets = g.obj, g.secrets
		}
		switch o := obj.(type) {
		case *v1alpha1.WPApiPolicy:
			b.Policies = append(b.Policies, *o)
		case *v1alpha1.ApiKey:
			b.APIKeys = append(b.APIKeys, *o)
		case *v1alpha1.OAuthClient:
			b.OAuthClients = append(b.OAuthClients, *o)
		}
		addSecrets(secrets)
	}
	return b
}

// publish stores the results and queues the status reconcile of every
// resource whose result changed. It reports whether this was the first
// compile.
func (c *compiler) publish(results map[objKey]Result, took time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.st.Compiles == 0
	c.st.Compiles++
	c.st.LastCompile = took
	c.st.MaxCompile = max(c.st.MaxCompile, took)
	notify := func(k objKey) {
		if q := c.queues[k.Kind]; q != nil {
			q.Add(reconcile.Request{NamespacedName: k.nn()})
		}
	}
	for k, r := range results {
		if old, ok := c.results[k]; !ok || !sameResult(old, r) {
			notify(k)
		}
	}
	for k := range c.results {
		if _, ok := results[k]; !ok {
			notify(k)
		}
	}
	c.results = results
	return first
}

func sameResult(a, b Result) bool {
	if (a.Problem == nil) != (b.Problem == nil) || (a.Problem != nil && *a.Problem != *b.Problem) {
		return false
	}
	a.Problem, b.Problem = nil, nil
	return a == b
}

// goods returns the last good versions as of the last compile.
func (c *compiler) goods() map[objKey]*good {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.published
}

// result returns the last compile's result for a resource.
func (c *compiler) result(k objKey) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[k]
	return r, ok
}

// subscribe makes the compiler queue kind's status reconciles on q until
// ctx ends.
func (c *compiler) subscribe(ctx context.Context, kind string, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	c.mu.Lock()
	c.queues[kind] = q
	for k := range c.results {
		if k.Kind == kind {
			q.Add(reconcile.Request{NamespacedName: k.nn()})
		}
	}
	c.mu.Unlock()
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		if c.queues[kind] == q {
			delete(c.queues, kind)
		}
		c.mu.Unlock()
	}()
}

func (c *compiler) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}
