package controller

// Last good copies. The compiler's last good versions are what keeps an
// invalid change from taking anything away; they are worth as much after a
// restart. The leader keeps a copy of each in a Secret in the manager's own
// namespace; every replica watches the copies and has them before its
// first compile, so that every replica serves the same versions whatever
// its start time (or the versions its cache missed), and a refused policy
// keeps its hosts.
//
// Garbage collection: an owner reference cannot cross namespaces, and a
// finalizer would make deleting a policy wait for wpauthz (and leave
// undeletable objects behind when wpauthz is uninstalled). Instead the
// leader deletes a copy when the compiler forgets the resource (deleted,
// or deleted and created again under its name), and a starting leader
// deletes the copies of resources that went away while no leader ran.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Labels and annotations of a last good copy. The resource's name goes in
// an annotation (a name may be longer than a label value), and in the
// label too when it fits.
const (
	LabelLastGoodKind       = "policy.wpauthz.io/last-good-kind"
	LabelLastGoodNamespace  = "policy.wpauthz.io/last-good-namespace"
	LabelLastGoodName       = "policy.wpauthz.io/last-good-name"
	LabelLastGoodUID        = "policy.wpauthz.io/last-good-uid"
	LabelLastGoodGeneration = "policy.wpauthz.io/last-good-generation"
	annotationLastGoodName  = "policy.wpauthz.io/last-good-name"
	// annotationLastGoodSig is the entry signature the copy was made from
	// (UID, generation, Secret names and resource versions: no data).
	annotationLastGoodSig = "policy.wpauthz.io/last-good-sig"

	lastGoodObjectKey  = "object"
	lastGoodSecretsKey = "secrets"
)

// lastGoodSecretName names the copy of one resource: a hash, because
// kind, namespace and name together may exceed a Secret name.
func lastGoodSecretName(k objKey) string {
	sum := sha256.Sum256([]byte(k.Kind + "/" + k.Namespace + "/" + k.Name))
	return "wpauthz-lastgood-" + strings.ToLower(k.Kind) + "-" + hex.EncodeToString(sum[:10])
}

// storedSecret is a referenced Secret as a copy keeps it: only the keys
// the compile reads.
type storedSecret struct {
	Name string            `json:"name"`
	Data map[string][]byte `json:"data"`
}

// minimalSecrets returns copies of secrets holding only the data that obj
// reads from them.
func minimalSecrets(obj client.Object, secrets []*corev1.Secret) []*corev1.Secret {
	read := secretRefKeys(obj)
	out := make([]*corev1.Secret, 0, len(secrets))
	for _, s := range secrets {
		keys, ok := read[s.Name]
		if !ok {
			continue
		}
		data := map[string][]byte{}
		for k, v := range s.Data {
			if keys == nil || slices.Contains(keys, k) {
				data[k] = v
			}
		}
		for k, v := range s.StringData {
			if keys == nil || slices.Contains(keys, k) {
				data[k] = []byte(v)
			}
		}
		out = append(out, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name}, Data: data})
	}
	return out
}

// encodeLastGood builds the copy of g.
func encodeLastGood(k objKey, g *good, ns string) (*corev1.Secret, error) {
	full, err := json.Marshal(g.srcObj)
	if err != nil {
		return nil, err
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(full, &parts); err != nil {
		return nil, err
	}
	// What the compile reads: identity, creation time (the older policy
	// keeps a contested host) and spec. No status, labels or annotations.
	o := g.srcObj
	object, err := json.Marshal(map[string]any{
		"metadata": metav1.ObjectMeta{Namespace: o.GetNamespace(), Name: o.GetName(), UID: o.GetUID(),
			Generation: o.GetGeneration(), CreationTimestamp: o.GetCreationTimestamp()},
		"spec": parts["spec"],
	})
	if err != nil {
		return nil, err
	}
	stored := make([]storedSecret, len(g.srcSecrets))
	for i, s := range g.srcSecrets {
		stored[i] = storedSecret{Name: s.Name, Data: s.Data}
	}
	secrets, err := json.Marshal(stored)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"app.kubernetes.io/managed-by": DefaultName,
		LabelLastGoodKind:              k.Kind,
		LabelLastGoodNamespace:         k.Namespace,
		LabelLastGoodUID:               string(g.uid),
		LabelLastGoodGeneration:        strconv.FormatInt(g.generation, 10),
	}
	if len(validation.IsValidLabelValue(k.Name)) == 0 {
		labels[LabelLastGoodName] = k.Name
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: lastGoodSecretName(k), Labels: labels,
			Annotations: map[string]string{annotationLastGoodName: k.Name, annotationLastGoodSig: g.sig},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{lastGoodObjectKey: object, lastGoodSecretsKey: secrets},
	}, nil
}

// copyKey reads the resource a copy belongs to from its labels.
func copyKey(s *corev1.Secret) (objKey, *kind, bool) {
	k := objKey{Kind: s.Labels[LabelLastGoodKind], Namespace: s.Labels[LabelLastGoodNamespace], Name: s.Annotations[annotationLastGoodName]}
	for _, kd := range kinds {
		if kd.name == k.Kind && k.Namespace != "" && k.Name != "" && s.Name == lastGoodSecretName(k) {
			return k, kd, true
		}
	}
	return objKey{}, nil, false
}

// decodeLastGood turns a copy back into a last good version. Errors name
// what is wrong, never the data.
func decodeLastGood(s *corev1.Secret) (objKey, *good, error) {
	k, kd, ok := copyKey(s)
	if !ok {
		return objKey{}, nil, fmt.Errorf("labels do not name a resource")
	}
	obj := kd.newObject()
	if err := json.Unmarshal(s.Data[lastGoodObjectKey], obj); err != nil {
		return k, nil, fmt.Errorf("key %q does not hold a %s", lastGoodObjectKey, k.Kind)
	}
	if obj.GetNamespace() != k.Namespace || obj.GetName() != k.Name || string(obj.GetUID()) != s.Labels[LabelLastGoodUID] {
		return k, nil, fmt.Errorf("the object is not the one the labels name")
	}
	var stored []storedSecret
	if err := json.Unmarshal(s.Data[lastGoodSecretsKey], &stored); err != nil {
		return k, nil, fmt.Errorf("key %q does not hold Secrets", lastGoodSecretsKey)
	}
	secrets := make([]*corev1.Secret, len(stored))
	for i, st := range stored {
		secrets[i] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: st.Name}, Data: st.Data}
	}
	return k, newGood(k, obj.GetUID(), obj.GetGeneration(), s.Annotations[annotationLastGoodSig], kd, obj, secrets), nil
}

// decodedCopy is a copy as the compiler last decoded it.
type decodedCopy struct {
	resourceVersion string
	key             objKey
	good            *good // nil: the copy could not be decoded
}

// readCopies returns the last good versions in the leader's copies, from
// the copy cache. A copy is decoded once per resource version.
func (c *compiler) readCopies(ctx context.Context) (map[objKey]*good, error) {
	if c.copies == nil {
		return nil, nil
	}
	var list corev1.SecretList
	if err := c.copies.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing last good copies: %w", err)
	}
	memo := make(map[string]decodedCopy, len(list.Items))
	out := make(map[objKey]*good, len(list.Items))
	for i := range list.Items {
		s := &list.Items[i]
		d, ok := c.copyMemo[s.Name]
		if !ok || d.resourceVersion != s.ResourceVersion {
			d = decodedCopy{resourceVersion: s.ResourceVersion}
			k, g, err := decodeLastGood(s)
			if err != nil {
				c.log.Error(err, "ignoring a last good copy", "secret", s.Namespace+"/"+s.Name)
			} else {
				d.key, d.good = k, g
			}
		}
		memo[s.Name] = d
		if d.good != nil {
			out[d.key] = d.good
		}
	}
	c.copyMemo = memo
	return out, nil
}

// copyChanged signals the compile loop when a copy says something this
// replica does not hold already (the leader's own writes, and copies of
// versions every replica has, cause no compile).
func (c *compiler) copyChanged(obj any) {
	if s, ok := obj.(*corev1.Secret); ok {
		if k, _, ok := copyKey(s); ok {
			c.mu.Lock()
			g := c.published[k]
			c.mu.Unlock()
			if g != nil && string(g.uid) == s.Labels[LabelLastGoodUID] && g.sig == s.Annotations[annotationLastGoodSig] {
				return
			}
		}
	}
	c.store.signal()
}

// pickGood chooses between this replica's last good version of a resource
// and the leader's copy: the later generation; for the same generation
// with other Secrets, the copy, so that replicas agree on the leader's.
func pickGood(mine, copied *good) *good {
	switch {
	case copied == nil || (mine != nil && mine.uid != copied.uid):
		return mine
	case mine == nil || copied.generation > mine.generation:
		return copied
	case copied.generation < mine.generation || copied.sig == mine.sig:
		return mine
	}
	return copied
}

// persister keeps the last good copies in step with the compiler's last
// good versions. It runs on the leader only.
type persister struct {
	c          *compiler
	client     client.Client
	live       client.Reader
	namespace  string
	namespaces []string // watched; nil: all
	log        logr.Logger
}

// NeedLeaderElection: one writer.
func (p *persister) NeedLeaderElection() bool { return true }

// copyState is what the persister knows of one copy in the cluster.
type copyState struct {
	// good is the version the persister wrote it from; nil when the copy
	// was found by a list.
	good *good
	// digest sums up the copy's labels, annotations and data.
	digest string
}

// resyncEvery is how often the leader lists the copies again, to repair
// copies edited or deleted by hand.
const resyncEvery = 10 * time.Minute

func (p *persister) Start(ctx context.Context) error {
	select {
	case <-p.c.firstDone:
	case <-ctx.Done():
		return nil
	}
	var written map[objKey]copyState
	resync := time.NewTicker(resyncEvery)
	defer resync.Stop()
	var retry <-chan time.Time
	for {
		var err error
		if written == nil {
			written, err = p.list(ctx)
		}
		if err == nil {
			err = p.sync(ctx, written)
		}
		retry = nil
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Error(err, "keeping last good copies", "namespace", p.namespace)
			retry = time.After(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.c.goodsChanged:
		case <-retry:
		case <-resync.C:
			written = nil
		}
	}
}

// list reads the copies in the namespace.
func (p *persister) list(ctx context.Context) (map[objKey]copyState, error) {
	var list corev1.SecretList
	if err := p.live.List(ctx, &list, client.InNamespace(p.namespace), client.HasLabels{LabelLastGoodKind}); err != nil {
		return nil, fmt.Errorf("listing the copies: %w", err)
	}
	written := map[objKey]copyState{}
	for i := range list.Items {
		s := &list.Items[i]
		if k, _, ok := copyKey(s); ok {
			written[k] = copyState{digest: copyDigest(s)}
		}
	}
	return written, nil
}

// sync writes the copies that differ from the compiler's last good
// versions and deletes those of resources it forgot. written is what the
// namespace holds; sync keeps it current.
func (p *persister) sync(ctx context.Context, written map[objKey]copyState) error {
	goods := p.c.goods()
	var errs []error
	for _, k := range slices.SortedFunc(maps.Keys(goods), func(a, b objKey) int { return strings.Compare(a.String(), b.String()) }) {
		g := goods[k]
		w, ok := written[k]
		if ok && w.good == g {
			continue
		}
		want, err := encodeLastGood(k, g, p.namespace)
		if err != nil {
			errs = append(errs, fmt.Errorf("encoding the last good copy of %s: %w", k, err))
			continue
		}
		d := copyDigest(want)
		if !ok || w.digest != d {
			if err := p.write(ctx, k, g, want); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		written[k] = copyState{good: g, digest: d}
	}
	for k := range written {
		if _, ok := goods[k]; ok || !p.watched(k.Namespace) {
			continue
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: lastGoodSecretName(k)}}
		if err := p.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting the last good copy of %s: %w", k, err))
			continue
		}
		p.log.V(1).Info("last good copy deleted", "resource", k.String())
		delete(written, k)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of the copies: %w (and %d more)", len(errs), errs[0], len(errs)-1)
	}
	return nil
}

func (p *persister) write(ctx context.Context, k objKey, g *good, want *corev1.Secret) error {
	have := &corev1.Secret{}
	switch err := p.live.Get(ctx, client.ObjectKeyFromObject(want), have); {
	case apierrors.IsNotFound(err):
		if err := p.client.Create(ctx, want); err != nil {
			return fmt.Errorf("creating the last good copy of %s: %w", k, err)
		}
	case err != nil:
		return fmt.Errorf("reading the last good copy of %s: %w", k, err)
	default:
		have.Labels, have.Annotations, have.Data = want.Labels, want.Annotations, want.Data
		if err := p.client.Update(ctx, have); err != nil {
			return fmt.Errorf("updating the last good copy of %s: %w", k, err)
		}
	}
	p.log.V(1).Info("last good copy written", "resource", k.String(), "generation", g.generation, "secret", want.Name)
	return nil
}

// copyDigest sums up what the persister sets on a copy.
func copyDigest(s *corev1.Secret) string {
	h := sha256.New()
	for _, m := range []map[string]string{s.Labels, s.Annotations} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(m[k]), m[k])
		}
		h.Write([]byte{0})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(s.Data[k]))
		h.Write(s.Data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *persister) watched(ns string) bool {
	return p.namespaces == nil || slices.Contains(p.namespaces, ns)
}

// newCopyCache returns a cache of the last good copies in ns, started
// with mgr on every replica; a change to a copy calls changed with it.
func newCopyCache(ctx context.Context, mgr manager.Manager, ns string, changed func(obj any)) (cache.Cache, error) {
	exists, err := labels.NewRequirement(LabelLastGoodKind, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	copies, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultNamespaces:    map[string]cache.Config{ns: {}},
		DefaultLabelSelector: labels.NewSelector().Add(*exists),
		DefaultTransform:     cache.TransformStripManagedFields(),
		// Read by the compile loop only, never modified.
		DefaultUnsafeDisableDeepCopy: ptr.To(true),
	})
	if err != nil {
		return nil, fmt.Errorf("cache of the last good copies: %w", err)
	}
	inf, err := copies.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return nil, fmt.Errorf("cache of the last good copies: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: changed, DeleteFunc: changed, UpdateFunc: func(_, o any) { changed(o) },
	}); err != nil {
		return nil, err
	}
	if err := mgr.Add(everyReplica{copies}); err != nil {
		return nil, err
	}
	return copies, nil
}

// everyReplica runs a runnable whether or not this replica leads.
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }
