package replicas

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/usernotify"
	"github.com/wpauthz/wpauthz/test/redistest"
	"github.com/wpauthz/wpauthz/test/testbin"
)

// A user-change notification from WordPress reaches one replica's
// internal listener; every replica refuses the user's older tokens.
func TestNotificationReachesEveryReplica(t *testing.T) {
	const key = "replicas-notify-key-0123456789abcdef012345"
	srv := redistest.Start(t)
	dir := testbin.Samples(t)
	policy := filepath.Join(dir, "policy.yaml")
	b, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "      name: local-wordpress-users\n      key: users.yaml\n"
	if !strings.Contains(string(b), anchor) {
		t.Fatal("sample policy changed: no usersSecretRef block")
	}
	b = []byte(strings.Replace(string(b), anchor, anchor+"    notificationKeySecretRef: {name: local-notify, key: key}\n", 1))
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: local-notify, namespace: default}\nstringData:\n  key: " + key + "\n"
	if err := os.WriteFile(policy, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notify.yaml"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}

	internal := freeAddr(t)
	a := start(t, "A", dir, srv.URL, "--internal-addr", internal)
	other := start(t, "B", dir, srv.URL)
	tokA, _ := a.login(t)
	tokB, _ := other.login(t)
	for _, tok := range []string{tokA, tokB} {
		if st := other.check(t, tok); st != 200 {
			t.Fatalf("token before the notification, on B: %d", st)
		}
	}

	body := []byte(`{"host":"localhost","user_id":2,"event":"password_changed"}`)
	req, _ := http.NewRequest("POST", "http://"+internal+usernotify.Path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(usernotify.SignatureHeader, usernotify.Sign([]byte(key), time.Now().Unix(), body))
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || out["revoked"] != true {
		t.Fatalf("notification to A: %d %s", resp.StatusCode, raw)
	}
	for _, tok := range []string{tokA, tokB} {
		if !eventually(2*time.Second, func() bool { return other.check(t, tok) == 401 }) {
			t.Fatalf("jane's token still accepted on B 2 s after the notification to A")
		}
	}
	t.Logf("notification to A -> both of jane's tokens refused on B after %v", time.Since(sent).Round(time.Microsecond))

	// The public listener does not serve the notification path.
	resp, err = http.Post(a.base+usernotify.Path, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("the public HTTP listener accepted a notification")
	}
	// Logging in again works on both.
	if tok, _ := other.login(t); other.check(t, tok) != 200 {
		t.Fatal("a new login after the notification is refused")
	}
}
