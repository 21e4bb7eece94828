package controller

import (
	"context"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// entry is the current version of one resource, as the ingest
// controllers last read it from the cache.
type entry struct {
	key  objKey
	kind *kind
	// obj is the cached object; never modified.
	obj        client.Object
	uid        types.UID
	generation int64
	// generated is true for an ApiKey whose key the controller generates.
	generated bool
	// sig sums up what the entry was built from (generation and the
	// resource versions of the Secrets it names), so that a reconcile
	// that changes nothing does not cause a compile.
	sig string
}

// store holds the current version of every resource. Ingest controllers
// refresh it; the compiler reads it.
type store struct {
	reader client.Reader

	mu      sync.Mutex
	current map[objKey]*entry
	// changed has room for one signal: a burst of refreshes while a
	// compile runs yields one more compile, not one per refresh.
	changed chan struct{}
}

func newStore(r client.Reader) *store {
	return &store{reader: r, current: map[objKey]*entry{}, changed: make(chan struct{}, 1)}
}

func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.current)
}

// entries returns the current entries.
func (s *store) entries() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*entry, 0, len(s.current))
	for _, e := range s.current {
		out = append(out, e)
	}
	return out
}

// refresh reads one resource (and the versions of the Secrets it names)
// from the cache and records it, or forgets it when it is gone. It signals
// the compiler when something changed. Refreshes are serialized, and each
// reads the cache while holding the lock, so the store never goes back to
// an older state than the cache had when the last refresh of a key began.
func (s *store) refresh(ctx context.Context, k *kind, nn types.NamespacedName) error {
	key := objKey{Kind: k.name, Namespace: nn.Namespace, Name: nn.Name}
	s.mu.Lock()
	defer s.mu.Unlock()

	obj := k.newObject()
	if err := s.reader.Get(ctx, nn, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		if _, ok := s.current[key]; ok {
			delete(s.current, key)
			s.signal()
		}
		return nil
	}
	e := &entry{key: key, kind: k, obj: obj, uid: obj.GetUID(), generation: obj.GetGeneration()}
	if ak, ok := obj.(*v1alpha1.ApiKey); ok && ak.Spec.SecretRef == nil {
		e.generated = true
	}
	var sig strings.Builder
	sig.WriteString(string(e.uid))
	sig.WriteByte('/')
	sig.WriteString(strconv.FormatInt(e.generation, 10))
	for _, name := range k.secretNames(obj) {
		var sec corev1.Secret
		sig.WriteByte('/')
		sig.WriteString(name)
		sig.WriteByte('=')
		switch err := s.reader.Get(ctx, types.NamespacedName{Namespace: nn.Namespace, Name: name}, &sec); {
		case apierrors.IsNotFound(err):
			sig.WriteByte('-')
		case err != nil:
			return err
		default:
			sig.WriteString(sec.ResourceVersion)
			if e.generated && !metav1.IsControlledBy(&sec, obj) {
				sig.WriteString("(foreign)")
			}
		}
	}
	e.sig = sig.String()
	if old, ok := s.current[key]; ok && old.sig == e.sig {
		return nil
	}
	s.current[key] = e
	s.signal()
	return nil
}

func (s *store) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}
