package usernotify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/authztest"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
)

// The package has no tests of its own (test/tokenflow and test/replicas
// send notifications end to end); the seeds are the notification shapes
// those suites send, signed and not.

const fuzzKey = "notify-key-0123456789abcdef0123456789abcdef"

var fuzzNow = time.Unix(1_750_000_000, 0)

// countingStore counts the watermarks written.
type countingStore struct {
	store.Revocations
	revoked atomic.Int64
}

func (s *countingStore) RevokeSubject(ctx context.Context, subject string, before time.Time, keep time.Duration) error {
	s.revoked.Add(1)
	return s.Revocations.RevokeSubject(ctx, subject, before, keep)
}

// notifySnapshot is one site, example.com, with a notification key.
func notifySnapshot(t testing.TB) *policy.Snapshot {
	t.Helper()
	_, idKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := policy.Bundle{
		Policies: []v1alpha1.WPApiPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "ns"}, Spec: v1alpha1.WPApiPolicySpec{
			Hosts: []v1alpha1.Host{"example.com"},
			WordPress: &v1alpha1.WordPressSource{
				UsersSecretRef:           &v1alpha1.SecretKeySelector{Name: "users", Key: "users.yaml"},
				NotificationKeySecretRef: &v1alpha1.SecretKeySelector{Name: "notify", Key: "key"},
			},
		}}},
		Secrets: []corev1.Secret{
			{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: "ns"}, Data: map[string][]byte{"users.yaml": []byte("users: [{id: 2, login: jane, roles: [editor]}]")}},
			{ObjectMeta: metav1.ObjectMeta{Name: "notify", Namespace: "ns"}, Data: map[string][]byte{"key": []byte(fuzzKey)}},
		},
	}
	snap, problems := policy.Compile(b, policy.Options{IdentityKey: idKey})
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	return snap
}

// FuzzParseSignature: a header parseSignature accepts is "t=<digits>" and
// "v1=<64 hex>" once each, and the parts it returns print back to a
// header that parses the same.
func FuzzParseSignature(f *testing.F) {
	body := []byte(`{"host":"example.com","user_id":2,"event":"password_changed"}`)
	good := Sign([]byte(fuzzKey), fuzzNow.Unix(), body)
	for _, s := range []string{good, "t=1,v1=" + strings.Repeat("0", 64), "v1=" + strings.Repeat("ab", 32) + ",t=0001", good + "," + good,
		"t=1", "t=-1,v1=" + strings.Repeat("0", 64), "t= 1 , v1=" + strings.Repeat("A", 64), "t=1,v1=" + strings.Repeat("0", 63), "t=1;v1=x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ts, mac, ok := parseSignature([]string{h})
		if !ok {
			return
		}
		if ts < 0 || len(mac) != 32 || len(h) > 128 || strings.Count(h, "t=") < 1 || strings.Count(h, "v1=") < 1 {
			t.Fatalf("accepted %q as %d %x", h, ts, mac)
		}
		again := "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac)
		if t2, m2, ok := parseSignature([]string{again}); !ok || t2 != ts || !bytes.Equal(m2, mac) {
			t.Fatalf("%q read back from %q as %d %x %v", again, h, t2, m2, ok)
		}
		if _, _, ok := parseSignature([]string{h, h}); ok {
			t.Fatal("the header sent twice was accepted")
		}
	})
}

// FuzzNotification: through the handler, a notification changes a
// watermark only when it is signed with the site's key within MaxAge and
// names a user and a known event; every other answer is a refusal in
// WordPress's shape and writes nothing. A notification signed with the key
// that is all of that is accepted.
func FuzzNotification(f *testing.F) {
	snap := notifySnapshot(f)
	for _, s := range []struct {
		body   string
		sig    string
		sign   bool
		offset int64
	}{
		{`{"host":"example.com","user_id":2,"event":"password_changed"}`, "", true, 0},
		{`{"host":"example.com","user_id":2,"event":"role_changed"}`, "", true, -59},
		{`{"host":"example.com","user_id":2,"event":"user_deleted"}`, "", true, 61},
		{`{"host":"EXAMPLE.com:443","user_id":2,"event":"user_changed"}`, "", true, 0},
		{`{"host":"b.example","user_id":2,"event":"password_changed"}`, "", true, 0},
		{`{"host":"example.com","user_id":0,"event":"password_changed"}`, "", true, 0},
		{`{"host":"example.com","user_id":2,"event":"nope"}`, "", true, 0},
		{`{"host":"example.com","user_id":2,"event":"password_changed","extra":1}`, "", true, 0},
		{`{"host":"example.com","user_id":2,"event":"password_changed"} {}`, "", true, 0},
		{`{"host":"example.com","user_id":2,"event":"password_changed"}`, "t=1750000000,v1=" + strings.Repeat("0", 64), false, 0},
		{`{"host":"example.com","user_id":2,"event":"password_changed"}`, "", false, 0},
	} {
		f.Add([]byte(s.body), s.sig, s.sign, s.offset)
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string, sign bool, offset int64) {
		offset %= 10 * int64(MaxAge/time.Second)
		signedAt := fuzzNow.Unix() + offset
		if sign {
			sig = Sign([]byte(fuzzKey), signedAt, body)
		}
		st := &countingStore{Revocations: store.NewMemory(func() time.Time { return fuzzNow })}
		h := &Handler{Snapshot: func() *policy.Snapshot { return snap }, Store: st, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return fuzzNow }}
		req := httptest.NewRequest("POST", Path, bytes.NewReader(body))
		req.Header.Set(SignatureHeader, sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		ts, mac, sigOK := parseSignature([]string{sig})
		fresh := sigOK && time.Unix(ts, 0).Sub(fuzzNow).Abs() <= MaxAge
		signed := sigOK && validMAC([]byte(fuzzKey), ts, body, mac)
		var n notification
		valid := len(body) <= maxBody && decodeStrict(body, &n) == nil && policy.CanonicalHost(n.Host) == "example.com" && n.UserID > 0 && Events[n.Event]
		if w.Code != http.StatusOK {
			authztest.RequireWPError(t, w.Code, w.Body.Bytes())
			if st.revoked.Load() != 0 {
				t.Fatalf("refused with %d but wrote %d watermarks", w.Code, st.revoked.Load())
			}
			if fresh && signed && valid {
				t.Fatalf("a valid notification signed with the key was refused: %d %s", w.Code, w.Body)
			}
			return
		}
		if !fresh || !signed || !valid {
			t.Fatalf("accepted: fresh %v signed %v valid %v: %q", fresh, signed, valid, body)
		}
		if st.revoked.Load() != 1 {
			t.Fatalf("accepted, %d watermarks written", st.revoked.Load())
		}
	})
}
