package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/apikey"
)

// setupIngest registers the controller that keeps the store's copy of one
// kind current, on every replica. A Secret change reaches only the objects
// that name it, found through the Secret-name field index.
func (c *Controller) setupIngest(mgr manager.Manager, k *kind) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(k.name)+"-ingest").
		For(k.newObject()).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(c.dependents(mgr.GetCache(), k))).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			return reconcile.Result{}, c.store.refresh(ctx, k, req.NamespacedName)
		}))
}

// dependents maps a Secret to the objects of kind k that name it.
func (c *Controller) dependents(r client.Reader, k *kind) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		list := k.newList()
		if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretIndex: o.GetName()}); err != nil {
			c.log.Error(err, "listing dependents of a Secret", "kind", k.name, "secret", o.GetNamespace()+"/"+o.GetName())
			return nil
		}
		items := k.listItems(list)
		reqs := make([]reconcile.Request, len(items))
		for i, it := range items {
			reqs[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: it.GetNamespace(), Name: it.GetName()}}
		}
		return reqs
	}
}

// setupStatus registers the leader-only controller that writes one kind's
// status from the compiler's results (and generates API keys).
func (c *Controller) setupStatus(mgr manager.Manager, k *kind) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(k.name) + "-status").
		For(k.newObject()).
		WatchesRawSource(source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			c.compiler.subscribe(ctx, k.name, q)
			return nil
		}))
	if k == apiKeyKind {
		// Deleting a generated key's Secret rotates the key.
		b = b.Owns(&corev1.Secret{})
	}
	// Status writes are round trips to the API server: a few at a time
	// (never two for one object).
	b = b.WithOptions(controller.Options{MaxConcurrentReconciles: 4})
	return b.Complete(&statusReconciler{
		c:        c,
		kind:     k,
		client:   client.WithFieldOwner(mgr.GetClient(), c.name),
		live:     mgr.GetAPIReader(),
		recorder: mgr.GetEventRecorder(c.name),
	})
}

type statusReconciler struct {
	c        *Controller
	kind     *kind
	client   client.Client
	live     client.Reader // uncached
	recorder recorder.EventRecorder
}

// status is a view of the common status fields of the three kinds.
type status struct {
	observedGeneration *int64
	conditions         *[]metav1.Condition
	fingerprint        *string // ApiKey only
}

func statusOf(o client.Object) status {
	switch o := o.(type) {
	case *v1alpha1.WPApiPolicy:
		return status{&o.Status.ObservedGeneration, &o.Status.Conditions, nil}
	case *v1alpha1.ApiKey:
		return status{&o.Status.ObservedGeneration, &o.Status.Conditions, &o.Status.Fingerprint}
	case *v1alpha1.OAuthClient:
		return status{&o.Status.ObservedGeneration, &o.Status.Conditions, nil}
	}
	panic(fmt.Sprintf("controller: no status for %T", o))
}

func (r *statusReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := r.kind.newObject()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return reconcile.Result{}, nil
	}
	foreign := false
	if ak, ok := obj.(*v1alpha1.ApiKey); ok && ak.Spec.SecretRef == nil {
		var err error
		if foreign, err = r.ensureKeySecret(ctx, ak); err != nil {
			return reconcile.Result{}, err
		}
	}
	key := objKey{Kind: r.kind.name, Namespace: req.Namespace, Name: req.Name}
	res, ok := r.c.compiler.result(key)
	if !ok || res.UID != obj.GetUID() || res.Generation != obj.GetGeneration() {
		// The compiler has not seen this version yet; it queues this
		// reconcile again when it has.
		return reconcile.Result{}, nil
	}
	if foreign && res.Problem != nil && res.Problem.Reason == v1alpha1.ReasonSecretNotFound {
		p := *res.Problem
		p.Message = fmt.Sprintf("Secret %q exists but is not owned by this ApiKey: delete it (a key is then generated) or name it in spec.secretRef", GeneratedSecretName(obj.GetName()))
		res.Problem = &p
	}

	orig := obj.DeepCopyObject().(client.Object)
	requeue := r.desire(obj, res)
	if equality.Semantic.DeepEqual(orig, obj) {
		return reconcile.Result{RequeueAfter: requeue}, nil
	}
	// The cache may not show our own last write yet: decide on the live
	// object, so that one change is one write.
	if err := r.live.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if obj.GetUID() != res.UID || obj.GetGeneration() != res.Generation {
		return reconcile.Result{}, nil // a newer version is on its way
	}
	orig = obj.DeepCopyObject().(client.Object)
	requeue = r.desire(obj, res)
	if equality.Semantic.DeepEqual(orig, obj) {
		return reconcile.Result{RequeueAfter: requeue}, nil
	}
	before, after := statusOf(orig), statusOf(obj)
	if err := r.client.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("writing status: %w", err)
	}
	r.c.compiler.statusWrites.Add(1)
	r.c.log.V(1).Info("status written", "kind", r.kind.name, "object", req.NamespacedName, "generation", obj.GetGeneration())
	r.events(obj, before, after)
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// desire sets obj's status from the compile result. It returns when the
// status should be looked at again (an API key's expiry), or 0.
func (r *statusReconciler) desire(obj client.Object, res Result) time.Duration {
	st := statusOf(obj)
	gen := obj.GetGeneration()
	*st.observedGeneration = gen
	if st.fingerprint != nil && res.Fingerprint != "" {
		*st.fingerprint = res.Fingerprint
	}
	accepted := metav1.Condition{Type: v1alpha1.ConditionAccepted, ObservedGeneration: gen}
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: gen}
	var requeue time.Duration
	if p := res.Problem; p != nil {
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, p.Reason, p.Message
		ready.Status, ready.Reason = metav1.ConditionFalse, p.Reason
		if res.LastGood {
			ready.Message = fmt.Sprintf("Generation %d is refused; the last good version (generation %d) stays in force.", gen, res.InForceGeneration)
			if res.InForceGeneration == gen {
				ready.Message = fmt.Sprintf("Generation %d is refused with the Secrets it names now; its last good version (with the Secrets as they were) stays in force.", gen)
			}
		} else {
			ready.Message = "Not enforced: " + p.Message
		}
	} else {
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionTrue, v1alpha1.ReasonCompiled, fmt.Sprintf("Generation %d compiled.", gen)
		ready.Status, ready.Reason, ready.Message = metav1.ConditionTrue, v1alpha1.ReasonEnforced, fmt.Sprintf("Generation %d is enforced.", gen)
		switch o := obj.(type) {
		case *v1alpha1.ApiKey:
			now := r.c.now()
			switch {
			case o.Spec.Disabled:
				ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonDisabled, "The key is disabled (spec.disabled): it is refused."
			case o.Spec.ExpiresAt != nil && !now.Before(o.Spec.ExpiresAt.Time):
				ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonExpired, "The key expired at "+o.Spec.ExpiresAt.UTC().Format(time.RFC3339)+": it is refused."
			case o.Spec.ExpiresAt != nil:
				requeue = o.Spec.ExpiresAt.Sub(now) + time.Second
			}
		case *v1alpha1.OAuthClient:
			if o.Spec.Disabled {
				ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonDisabled, "The client is disabled (spec.disabled)."
			}
		}
	}
	meta.SetStatusCondition(st.conditions, accepted)
	meta.SetStatusCondition(st.conditions, ready)
	return requeue
}

// events records the notable changes between two statuses: a version
// enforced, a version refused, a key disabled or expired. Notes carry
// problem messages, which never quote Secret data.
func (r *statusReconciler) events(obj client.Object, before, after status) {
	was := meta.FindStatusCondition(*before.conditions, v1alpha1.ConditionReady)
	now := meta.FindStatusCondition(*after.conditions, v1alpha1.ConditionReady)
	acc := meta.FindStatusCondition(*after.conditions, v1alpha1.ConditionAccepted)
	changed := was == nil || was.Status != now.Status || was.Reason != now.Reason || *before.observedGeneration != *after.observedGeneration
	if !changed {
		return
	}
	switch {
	case now.Status == metav1.ConditionTrue:
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, v1alpha1.ReasonEnforced, "Compile", "%s", now.Message)
	case acc != nil && acc.Status == metav1.ConditionFalse:
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, acc.Reason, "Compile", "%s %s", acc.Message, now.Message)
	default:
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, now.Reason, "Compile", "%s", now.Message)
	}
}

// ensureKeySecret makes sure an ApiKey without secretRef has its generated
// key in a Secret it controls, generating a new key when the Secret is
// missing (first time, or deleted to rotate the key) or holds no valid
// key. It reports whether a Secret of that name exists that the ApiKey
// does not control (it is then left alone, and never read).
func (r *statusReconciler) ensureKeySecret(ctx context.Context, ak *v1alpha1.ApiKey) (foreign bool, err error) {
	name := GeneratedSecretName(ak.Name)
	s := &corev1.Secret{}
	err = r.client.Get(ctx, types.NamespacedName{Namespace: ak.Namespace, Name: name}, s)
	switch {
	case apierrors.IsNotFound(err):
		key, err := apikey.Generate()
		if err != nil {
			return false, err
		}
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ak.Namespace, Name: name, Labels: map[string]string{LabelAPIKey: ak.Name}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{GeneratedSecretKey: []byte(key)},
		}
		if err := controllerutil.SetControllerReference(ak, s, r.client.Scheme()); err != nil {
			return false, err
		}
		if err := r.client.Create(ctx, s); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Our cache lags behind; the Secret's event brings us back.
				return false, nil
			}
			return false, fmt.Errorf("creating Secret %s for the generated key: %w", name, err)
		}
		reason, verb := "KeyGenerated", "Generated"
		if ak.Status.Fingerprint != "" {
			reason, verb = "KeyRotated", "Rotated"
		}
		r.recorder.Eventf(ak, s, corev1.EventTypeNormal, reason, "GenerateKey", "%s the key into Secret %s (fingerprint %s).", verb, name, apikey.Sum(key).Fingerprint())
		return false, nil
	case err != nil:
		return false, err
	case !metav1.IsControlledBy(s, ak):
		return true, nil
	}
	if apikey.CheckMaterial(strings.TrimSpace(string(s.Data[GeneratedSecretKey]))) == nil {
		return false, nil
	}
	// Someone emptied or broke the key: replace it.
	key, err := apikey.Generate()
	if err != nil {
		return false, err
	}
	s = s.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data[GeneratedSecretKey] = []byte(key)
	if err := r.client.Update(ctx, s); err != nil {
		return false, fmt.Errorf("replacing the invalid generated key in Secret %s: %w", name, err)
	}
	r.recorder.Eventf(ak, s, corev1.EventTypeWarning, "KeyRotated", "GenerateKey", "Secret %s held no valid key; generated a new one (fingerprint %s).", name, apikey.Sum(key).Fingerprint())
	return false, nil
}
