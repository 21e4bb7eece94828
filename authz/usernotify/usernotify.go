// Package usernotify receives the bridge plugin's user-change
// notifications: WordPress tells wpauthz that a user's password, roles or
// application passwords changed, or that the user was deleted, and every
// token of that user issued up to the change stops working on every
// replica.
//
// The call is served on the internal listener only (serve --internal-addr),
// never through the public routes, and is authenticated by a key shared
// with that one site (spec.wordpress.notificationKeySecretRef):
//
//	POST /v1/user-changed
//	X-WPAuthz-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>
//	{"host":"example.com","user_id":12,"event":"password_changed"}
//
// The signed time is the watermark: tokens issued at or before it are dead.
// Watermarks only move forward, so a replayed notification changes
// nothing, and a notification older than MaxAge is refused outright.
package usernotify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wperror"
)

// Path is where the handler answers.
const Path = "/v1/user-changed"

// SignatureHeader carries the notification's time and MAC.
const SignatureHeader = "X-WPAuthz-Signature"

// MaxAge is how far the signed time may be from wpauthz's clock, either
// way: long enough for a slow call, short enough that a captured request
// is soon worthless.
const MaxAge = 60 * time.Second

// maxBody bounds the request body; a real notification is under 200 bytes.
const maxBody = 4 << 10

// Events are the changes the plugin reports. All of them end the user's
// tokens; the name is logged so an operator can tell why.
var Events = map[string]bool{
	"password_changed":             true,
	"password_reset":               true,
	"role_changed":                 true,
	"user_deleted":                 true,
	"application_password_revoked": true,
	"user_changed":                 true,
}

// Handler serves POST Path.
type Handler struct {
	// Snapshot is the policy set in force.
	Snapshot func() *policy.Snapshot
	// Store holds the watermarks; RevokeSubject publishes them to every
	// replica, whose subscribers drop the user from their caches.
	Store store.Revocations
	Log   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

type notification struct {
	Host   string `json:"host"`
	UserID int64  `json:"user_id"`
	Event  string `json:"event"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		writeError(w, wperror.NoRoute)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, wperror.NoRoute)
		return
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, wperror.InvalidRequest)
		return
	}
	signed, mac, ok := parseSignature(r.Header.Values(SignatureHeader))
	if !ok || now.Sub(time.Unix(signed, 0)).Abs() > MaxAge {
		writeError(w, wperror.InvalidNotification)
		return
	}
	// The host is read before the MAC is checked (it selects the key);
	// nothing else in the body is trusted until the MAC matches.
	var n notification
	if err := decodeStrict(body, &n); err != nil {
		writeError(w, wperror.InvalidNotification)
		return
	}
	snap := h.Snapshot()
	var site *policy.Policy
	if snap != nil {
		site = snap.Lookup(n.Host)
	}
	if site == nil || len(site.NotificationKey) == 0 || !validMAC(site.NotificationKey, signed, body, mac) {
		writeError(w, wperror.InvalidNotification)
		return
	}
	if n.UserID <= 0 || !Events[n.Event] {
		writeError(w, wperror.InvalidRequest)
		return
	}

	// A clock a little ahead of ours must not move the watermark into
	// the future: logins would wait for it.
	before := time.Unix(min(signed, now.Unix()), 0)
	sub := strconv.FormatInt(n.UserID, 10)
	revoked := 0
	for _, p := range snap.Policies() {
		// Every policy reading the same WordPress users issues tokens for
		// this user; the pool shares one Directory per database.
		if p != site && (p.Users == nil || p.Users != site.Users) {
			continue
		}
		keep := max(p.JWTAccessTTL, p.RefreshTTL) + time.Minute
		if err := h.Store.RevokeSubject(r.Context(), p.SubjectKey(sub), before, keep); err != nil {
			h.log().ErrorContext(r.Context(), "user change: revoking tokens", "policy", p.Key(), "user_id", n.UserID, "err", err)
			writeError(w, wperror.Unavailable)
			return
		}
		revoked++
	}
	h.log().InfoContext(r.Context(), "user changed: tokens issued before the change revoked",
		"policy", site.Key(), "user_id", n.UserID, "event", n.Event, "before", before.Unix(), "policies", revoked)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{"revoked": true, "user_id": n.UserID, "before": before.Unix()})
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// parseSignature reads exactly one "t=<digits>,v1=<64 hex>" header.
func parseSignature(values []string) (int64, []byte, bool) {
	if len(values) != 1 || len(values[0]) > 128 {
		return 0, nil, false
	}
	var t int64
	var mac []byte
	seenT, seenV1 := false, false
	for part := range strings.SplitSeq(values[0], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, false
		}
		switch k {
		case "t":
			if seenT || v == "" || len(v) > 12 || strings.TrimLeft(v, "0123456789") != "" {
				return 0, nil, false
			}
			t, _ = strconv.ParseInt(v, 10, 64)
			seenT = true
		case "v1":
			b, err := hex.DecodeString(v)
			if seenV1 || err != nil || len(b) != sha256.Size {
				return 0, nil, false
			}
			mac, seenV1 = b, true
		default:
			return 0, nil, false
		}
	}
	return t, mac, seenT && seenV1
}

// Sign returns the X-WPAuthz-Signature value for body signed at t (what
// the bridge plugin sends; used by tests and tools).
func Sign(key []byte, t int64, body []byte) string {
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac(key, t, body))
}

func mac(key []byte, t int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(strconv.AppendInt(nil, t, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

func validMAC(key []byte, t int64, body, got []byte) bool {
	return hmac.Equal(mac(key, t, body), got)
}

// decodeStrict decodes one JSON object with no unknown fields and nothing
// after it.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func writeError(w http.ResponseWriter, e *wperror.Error) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body())
}
