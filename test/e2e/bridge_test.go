package e2e

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These scenarios attack the bridge plugin (wordpress/wpauthz-bridge.php)
// with hand-made X-WPAuthz-Identity headers. Most go straight to PHP
// (stack.DirectURL: nginx -> php-fpm, no wpauthz), where the plugin is the
// only thing between a forged header and WordPress; a few go through nginx,
// where wpauthz must never let a client's header reach PHP at all.

// bridgeCode is the error code of every refused assertion.
const bridgeCode = "wpauthz_invalid_identity"

const bridgeMe = "/wp-json/wp/v2/users/me"

type bridgeClaims map[string]any

func bridgeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func bridgeJTI() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return bridgeB64(b)
}

// bridgeClaimsFor returns the claims wpauthz would sign for sub on a
// request with method and target to the stack's host: htu is the target
// up to '?', exp 30 s away.
func bridgeClaimsFor(sub, method, target string) bridgeClaims {
	path, _, _ := strings.Cut(target, "?")
	now := time.Now().Unix()
	return bridgeClaims{
		"sub": sub, "roles": []string{}, "amr": []string{"jwt"},
		"aud": stack.Host, "htm": method, "htu": path,
		"jti": bridgeJTI(), "iat": now, "exp": now + 30,
	}
}

func bridgeUserClaims(role, method, target string) bridgeClaims {
	return bridgeClaimsFor(strconv.FormatInt(stack.Users[role].ID, 10), method, target)
}

func bridgeHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "wpauthz-id+jwt"}
}

// bridgeSegment is base64url(JSON(v)).
func bridgeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bridgeB64(b)
}

// bridgeSignSegments signs "seg1.seg2" as sent, with key.
func bridgeSignSegments(key ed25519.PrivateKey, seg1, seg2 string) string {
	in := seg1 + "." + seg2
	return in + "." + bridgeB64(ed25519.Sign(key, []byte(in)))
}

// bridgeSign makes a compact JWS of header and claims signed with key.
func bridgeSign(t *testing.T, key ed25519.PrivateKey, header map[string]any, claims bridgeClaims) string {
	t.Helper()
	return bridgeSignSegments(key, bridgeSegment(t, header), bridgeSegment(t, claims))
}

// bridgeValid is what wpauthz would send for claims.
func bridgeValid(t *testing.T, claims bridgeClaims) string {
	t.Helper()
	return bridgeSign(t, stack.IdentityKey, bridgeHeader(), claims)
}

type bridgeAnswer struct {
	Status  int
	ID      int64
	Code    string
	Message string
	Data    struct {
		Status int `json:"status"`
	}
	Username string
	Roles    []string
	Body     string
}

// bridgeDo sends a request with identity (when not empty) and decodes
// WordPress's JSON answer.
func bridgeDo(t *testing.T, base, method, target, identity string, extra http.Header) bridgeAnswer {
	t.Helper()
	hdr := http.Header{}
	for k, v := range extra {
		hdr[k] = v
	}
	if identity != "" {
		hdr.Set("X-WPAuthz-Identity", identity)
	}
	status, _, body := stack.Request(t, base, method, target, hdr, nil)
	var a bridgeAnswer
	var raw struct {
		ID      int64  `json:"id"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Status int `json:"status"`
		} `json:"data"`
		Username string   `json:"username"`
		Roles    []string `json:"roles"`
	}
	_ = json.Unmarshal(body, &raw)
	a.Status, a.ID, a.Code, a.Message, a.Data.Status = status, raw.ID, raw.Code, raw.Message, raw.Data.Status
	a.Username, a.Roles, a.Body = raw.Username, raw.Roles, string(body)
	if len(a.Body) > 300 {
		a.Body = a.Body[:300] + "…"
	}
	return a
}

// bridgeRequireUser: users/me (or target) answers 200 as user want.
func bridgeRequireUser(t *testing.T, what, base, target, identity string, want int64) bridgeAnswer {
	t.Helper()
	a := bridgeDo(t, base, "GET", target, identity, nil)
	if a.Status != 200 || a.ID != want {
		t.Fatalf("%s: GET %s = %d (user %d) %s, want 200 as user %d", what, target, a.Status, a.ID, a.Body, want)
	}
	return a
}

var bridgeMessages sync.Map // message -> true: every refusal must say the same

// bridgeRequireRefused: the request ends with the bridge's 401 in
// WordPress's error shape.
func bridgeRequireRefused(t *testing.T, what, base, method, target, identity string, extra http.Header) {
	t.Helper()
	a := bridgeDo(t, base, method, target, identity, extra)
	if a.Status != 401 || a.Code != bridgeCode || a.Data.Status != 401 || a.Message == "" {
		t.Fatalf("%s: %s %s = %d %s, want 401 {\"code\":%q,…,\"data\":{\"status\":401}}", what, method, target, a.Status, a.Body, bridgeCode)
	}
	bridgeMessages.Store(a.Message, true)
}

func bridgeUnique() string { return strconv.FormatInt(time.Now().UnixNano()%1e12, 36) }

func TestBridge(t *testing.T) {
	requireStack(t)
	editor := stack.Users["editor"]
	admin := stack.Users["administrator"]
	subscriber := stack.Users["subscriber"]
	if editor.ID == 0 || admin.ID == 0 || subscriber.ID == 0 {
		t.Fatalf("stack users missing: %+v", stack.Users)
	}
	direct := stack.DirectURL

	t.Run("NoHeaderIsWordPressAsUsual", func(t *testing.T) {
		a := bridgeDo(t, direct, "GET", bridgeMe, "", nil)
		if a.Status != 401 || a.Code != "rest_not_logged_in" {
			t.Fatalf("anonymous users/me = %d %s, want WordPress's own 401 rest_not_logged_in", a.Status, a.Body)
		}
		// Except that WordPress core no longer checks application passwords
		// itself: wpauthz does (hardening item 5). Without the plugin, the
		// same request authenticates.
		basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(editor.Login+":"+editor.AppPassword))}}
		if a := bridgeDo(t, direct, "GET", bridgeMe, "", basic); a.Status != 401 || a.Code != "rest_not_logged_in" {
			t.Fatalf("application password without the header = %d (user %d) %s, want WordPress's 401 rest_not_logged_in", a.Status, a.ID, a.Body)
		}
		if a := bridgeDo(t, stack.PlainURL, "GET", bridgeMe, "", basic); a.Status != 200 || a.ID != editor.ID {
			t.Fatalf("application password without the plugin = %d (user %d) %s, want 200 as %d", a.Status, a.ID, a.Body, editor.ID)
		}
	})

	t.Run("ValidAssertionActsAsTheUser", func(t *testing.T) {
		for _, role := range []string{"editor", "subscriber", "administrator"} {
			bridgeRequireUser(t, role, direct, bridgeMe, bridgeValid(t, bridgeUserClaims(role, "GET", bridgeMe)), stack.Users[role].ID)
		}
		// A kid is optional; with a single configured key it is not needed to match.
		h := bridgeHeader()
		h["kid"] = "some-key-id"
		bridgeRequireUser(t, "with kid", direct, bridgeMe, bridgeSign(t, stack.IdentityKey, h, bridgeUserClaims("editor", "GET", bridgeMe)), editor.ID)
		// The longest lifetime allowed.
		c := bridgeUserClaims("editor", "GET", bridgeMe)
		c["exp"] = c["iat"].(int64) + 60
		bridgeRequireUser(t, "ttl 60 s", direct, bridgeMe, bridgeValid(t, c), editor.ID)
	})

	t.Run("QueryStringIsNotPartOfHtu", func(t *testing.T) {
		target := bridgeMe + "?context=edit&_fields=id,username"
		bridgeRequireUser(t, "htu without the query", direct, target, bridgeValid(t, bridgeUserClaims("editor", "GET", target)), editor.ID)
		c := bridgeUserClaims("editor", "GET", target)
		c["htu"] = target
		bridgeRequireRefused(t, "htu with the query string", direct, "GET", target, bridgeValid(t, c), nil)
		// ?rest_route= on the front page: htu is "/".
		rr := "/?rest_route=/wp/v2/users/me"
		bridgeRequireUser(t, "rest_route", direct, rr, bridgeValid(t, bridgeUserClaims("editor", "GET", rr)), editor.ID)
	})

	t.Run("ValidHeaderWinsOverWordPressAuth", func(t *testing.T) {
		// Basic with the administrator's application password next to a
		// subscriber's assertion: the assertion decides, and WordPress's
		// application-password check does not interfere.
		basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(admin.Login+":"+admin.AppPassword))}}
		a := bridgeDo(t, direct, "GET", bridgeMe, bridgeValid(t, bridgeUserClaims("subscriber", "GET", bridgeMe)), basic)
		if a.Status != 200 || a.ID != subscriber.ID {
			t.Fatalf("assertion + admin Basic = %d (user %d) %s, want 200 as subscriber %d", a.Status, a.ID, a.Body, subscriber.ID)
		}
		// Wrong Basic credentials next to a valid assertion are not an error either.
		bad := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(admin.Login+":wrong wrong wrong"))}}
		a = bridgeDo(t, direct, "GET", bridgeMe, bridgeValid(t, bridgeUserClaims("editor", "GET", bridgeMe)), bad)
		if a.Status != 200 || a.ID != editor.ID {
			t.Fatalf("assertion + bad Basic = %d (user %d) %s, want 200 as editor %d", a.Status, a.ID, a.Body, editor.ID)
		}
		// An invalid assertion never falls back to the Basic credentials.
		c := bridgeUserClaims("subscriber", "GET", bridgeMe)
		c["aud"] = "elsewhere.example"
		bridgeRequireRefused(t, "invalid assertion + valid admin Basic", direct, "GET", bridgeMe, bridgeValid(t, c), basic)
	})

	t.Run("Signature", func(t *testing.T) {
		good := bridgeValid(t, bridgeUserClaims("administrator", "GET", bridgeMe))
		// Flip one bit of the signature.
		parts := strings.Split(good, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[10] ^= 0x01
		bridgeRequireRefused(t, "bit-flipped signature", direct, "GET", bridgeMe, parts[0]+"."+parts[1]+"."+bridgeB64(sig), nil)
		// Claims changed after signing.
		c := bridgeUserClaims("subscriber", "GET", bridgeMe)
		signed := bridgeValid(t, c)
		c["sub"] = strconv.FormatInt(admin.ID, 10)
		p := strings.Split(signed, ".")
		bridgeRequireRefused(t, "claims swapped under a signature", direct, "GET", bridgeMe, p[0]+"."+bridgeSegment(t, c)+"."+p[2], nil)
		// An attacker's own Ed25519 key.
		_, attacker, _ := ed25519.GenerateKey(rand.Reader)
		bridgeRequireRefused(t, "attacker key", direct, "GET", bridgeMe, bridgeSign(t, attacker, bridgeHeader(), bridgeUserClaims("administrator", "GET", bridgeMe)), nil)
		// A signature of the wrong length.
		bridgeRequireRefused(t, "short signature", direct, "GET", bridgeMe, p[0]+"."+p[1]+"."+bridgeB64(sig[:63]), nil)
	})

	t.Run("AlgorithmAndType", func(t *testing.T) {
		claims := func() bridgeClaims { return bridgeUserClaims("administrator", "GET", bridgeMe) }
		// alg none, with an empty signature and with a real one.
		none := map[string]any{"alg": "none", "typ": "wpauthz-id+jwt"}
		bridgeRequireRefused(t, "alg none, empty signature", direct, "GET", bridgeMe, bridgeSegment(t, none)+"."+bridgeSegment(t, claims())+".", nil)
		bridgeRequireRefused(t, "alg none, signed", direct, "GET", bridgeMe, bridgeSign(t, stack.IdentityKey, none, claims()), nil)
		// HS256 keyed with the public key (the classic confusion attack).
		pub := stack.IdentityKey.Public().(ed25519.PublicKey)
		hs := map[string]any{"alg": "HS256", "typ": "wpauthz-id+jwt"}
		for name, secret := range map[string][]byte{
			"raw public key":    pub,
			"base64 public key": []byte(base64.StdEncoding.EncodeToString(pub)),
		} {
			in := bridgeSegment(t, hs) + "." + bridgeSegment(t, claims())
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(in))
			bridgeRequireRefused(t, "HS256 with the "+name, direct, "GET", bridgeMe, in+"."+bridgeB64(m.Sum(nil)), nil)
		}
		// Other algorithms and spellings, signed with the real key.
		for _, alg := range []any{"RS256", "ES256", "HS512", "eddsa", "EdDSA ", "Ed25519", nil, 1} {
			h := map[string]any{"alg": alg, "typ": "wpauthz-id+jwt"}
			if alg == nil {
				delete(h, "alg")
			}
			bridgeRequireRefused(t, fmt.Sprintf("alg %v", alg), direct, "GET", bridgeMe, bridgeSign(t, stack.IdentityKey, h, claims()), nil)
		}
		// The typ separates assertions from access tokens.
		for _, typ := range []any{"JWT", "at+jwt", "WPAUTHZ-ID+JWT", "", nil} {
			h := map[string]any{"alg": "EdDSA", "typ": typ}
			if typ == nil {
				delete(h, "typ")
			}
			bridgeRequireRefused(t, fmt.Sprintf("typ %v", typ), direct, "GET", bridgeMe, bridgeSign(t, stack.IdentityKey, h, claims()), nil)
		}
		// Header parameters that would change how the token is processed.
		for name, v := range map[string]any{
			"crit": []string{"exp"},
			"jku":  "http://attacker.example/jwks.json",
			"jwk":  map[string]string{"kty": "OKP", "crv": "Ed25519", "x": bridgeB64(pub)},
			"x5u":  "http://attacker.example/cert.pem",
			"x5c":  []string{"MIIB"},
			"b64":  false,
		} {
			h := bridgeHeader()
			h[name] = v
			bridgeRequireRefused(t, "header "+name, direct, "GET", bridgeMe, bridgeSign(t, stack.IdentityKey, h, claims()), nil)
		}
		// A header that is not a JSON object.
		bridgeRequireRefused(t, "header is an array", direct, "GET", bridgeMe,
			bridgeSignSegments(stack.IdentityKey, bridgeB64([]byte(`["EdDSA"]`)), bridgeSegment(t, claims())), nil)
	})

	t.Run("Binding", func(t *testing.T) {
		cases := map[string]func(c bridgeClaims){
			"wrong aud":         func(c bridgeClaims) { c["aud"] = "other.example" },
			"aud with a port":   func(c bridgeClaims) { c["aud"] = stack.Host + ":80" },
			"aud in uppercase":  func(c bridgeClaims) { c["aud"] = strings.ToUpper(stack.Host) },
			"aud as an array":   func(c bridgeClaims) { c["aud"] = []string{stack.Host} },
			"no aud":            func(c bridgeClaims) { delete(c, "aud") },
			"wrong htm":         func(c bridgeClaims) { c["htm"] = "POST" },
			"htm in lowercase":  func(c bridgeClaims) { c["htm"] = "get" },
			"no htm":            func(c bridgeClaims) { delete(c, "htm") },
			"wrong htu":         func(c bridgeClaims) { c["htu"] = "/wp-json/wp/v2/posts" },
			"htu other case":    func(c bridgeClaims) { c["htu"] = strings.ToUpper(bridgeMe) },
			"htu trailing /":    func(c bridgeClaims) { c["htu"] = bridgeMe + "/" },
			"htu prefix":        func(c bridgeClaims) { c["htu"] = "/wp-json/" },
			"no htu":            func(c bridgeClaims) { delete(c, "htu") },
			"expired":           func(c bridgeClaims) { n := time.Now().Unix(); c["iat"], c["exp"] = n-120, n-60 },
			"expired 30 s ago":  func(c bridgeClaims) { n := time.Now().Unix(); c["iat"], c["exp"] = n-50, n-30 },
			"iat in the future": func(c bridgeClaims) { n := time.Now().Unix(); c["iat"], c["exp"] = n+120, n+150 },
			"ttl 61 s":          func(c bridgeClaims) { c["exp"] = c["iat"].(int64) + 61 },
			"ttl 1 h":           func(c bridgeClaims) { c["exp"] = c["iat"].(int64) + 3600 },
			"exp before iat":    func(c bridgeClaims) { c["exp"] = c["iat"].(int64) - 1 },
			"exp as a string":   func(c bridgeClaims) { c["exp"] = strconv.FormatInt(c["exp"].(int64), 10) },
			"exp as a float":    func(c bridgeClaims) { c["exp"] = float64(c["exp"].(int64)) + 0.5 },
			"no exp":            func(c bridgeClaims) { delete(c, "exp") },
			"no iat":            func(c bridgeClaims) { delete(c, "iat") },
			"no jti":            func(c bridgeClaims) { delete(c, "jti") },
			"empty jti":         func(c bridgeClaims) { c["jti"] = "" },
			"numeric jti":       func(c bridgeClaims) { c["jti"] = 123456789 },
			"no sub":            func(c bridgeClaims) { delete(c, "sub") },
			"numeric sub type":  func(c bridgeClaims) { c["sub"] = editor.ID },
			"missing user":      func(c bridgeClaims) { c["sub"] = "987654321" },
			"sub 0":             func(c bridgeClaims) { c["sub"] = "0" },
			"sub with zero":     func(c bridgeClaims) { c["sub"] = "0" + strconv.FormatInt(editor.ID, 10) },
			"huge sub":          func(c bridgeClaims) { c["sub"] = "99999999999999999999999" },
			"provision numeric": func(c bridgeClaims) {
				c["wp_provision"] = map[string]any{"login": "x" + bridgeUnique(), "role": "subscriber"}
			},
		}
		for name, mutate := range cases {
			c := bridgeUserClaims("editor", "GET", bridgeMe)
			mutate(c)
			bridgeRequireRefused(t, name, direct, "GET", bridgeMe, bridgeValid(t, c), nil)
		}
		// The real method, not an override: a POST carrying ?_method=GET
		// and X-HTTP-Method-Override is a POST.
		c := bridgeUserClaims("editor", "GET", bridgeMe)
		bridgeRequireRefused(t, "htm GET on a POST with overrides", direct, "POST", bridgeMe+"?_method=GET", bridgeValid(t, c),
			http.Header{"X-HTTP-Method-Override": {"GET"}})
		// Raw path, as sent: no decoding, no normalization.
		for _, target := range []string{"/wp-json/wp/v2/users/%6de", "/wp-json/wp/v2//users/me", "/wp-json/wp/v2/users/./me"} {
			bridgeRequireRefused(t, "htu for the normalized path of "+target, direct, "GET", target, bridgeValid(t, bridgeUserClaims("editor", "GET", bridgeMe)), nil)
		}
	})

	t.Run("Replay", func(t *testing.T) {
		h := bridgeValid(t, bridgeUserClaims("editor", "GET", bridgeMe))
		bridgeRequireUser(t, "first use", direct, bridgeMe, h, editor.ID)
		bridgeRequireRefused(t, "second use of the same jti", direct, "GET", bridgeMe, h, nil)
		bridgeRequireRefused(t, "third use of the same jti", direct, "GET", bridgeMe, h, nil)
		// The same jti re-signed into a new assertion is still a replay.
		c := bridgeUserClaims("editor", "GET", bridgeMe)
		first := bridgeValid(t, c)
		bridgeRequireUser(t, "first use", direct, bridgeMe, first, editor.ID)
		c["exp"] = c["exp"].(int64) + 1
		bridgeRequireRefused(t, "same jti, different exp", direct, "GET", bridgeMe, bridgeValid(t, c), nil)
		// Concurrent uses of one assertion: exactly one gets in.
		h = bridgeValid(t, bridgeUserClaims("editor", "GET", bridgeMe))
		statuses := bridgeConcurrent(t, 4, direct, bridgeMe, h)
		ok := 0
		for _, s := range statuses {
			if s == 200 {
				ok++
			} else if s != 401 {
				t.Errorf("concurrent replay answered %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("concurrent uses of one assertion: %v, want exactly one 200", statuses)
		}
	})

	t.Run("Encoding", func(t *testing.T) {
		c := bridgeUserClaims("editor", "GET", bridgeMe)
		h := bridgeSegment(t, bridgeHeader())
		cl := bridgeSegment(t, c)
		good := bridgeSignSegments(stack.IdentityKey, h, cl)
		p := strings.Split(good, ".")
		k := stack.IdentityKey
		for name, v := range map[string]string{
			"two segments":         p[0] + "." + p[1],
			"four segments":        good + "." + p[2],
			"empty payload":        bridgeSignSegments(k, h, ""),
			"padded header":        bridgeSignSegments(k, bridgeB64Padded(t, bridgeHeader()), cl),
			"padded claims":        bridgeSignSegments(k, h, bridgeB64Padded(t, c)),
			"padded signature":     p[0] + "." + p[1] + "." + p[2] + "==",
			"standard alphabet":    bridgeSignSegments(k, h, bridgeStdAlphabet(t, c)),
			"non-canonical bits":   bridgeSignSegments(k, h, bridgeNonCanonical(cl)),
			"whitespace in claims": bridgeSignSegments(k, h, cl[:10]+" "+cl[10:]),
			"comma-joined copies":  good + "," + good,
			"JSON, not base64":     bridgeSignSegments(k, `{"alg":"EdDSA"}`, cl),
			"claims not an object": bridgeSignSegments(k, h, bridgeB64([]byte(`"editor"`))),
			"claims not JSON":      bridgeSignSegments(k, h, bridgeB64([]byte(`{"sub":"1",`))),
			"garbage":              "garbage",
			"dots":                 "..",
		} {
			bridgeRequireRefused(t, name, direct, "GET", bridgeMe, v, nil)
		}
		// Oversized: a correctly signed assertion over 4 KiB.
		big := bridgeUserClaims("editor", "GET", bridgeMe)
		big["pad"] = strings.Repeat("a", 4500)
		bridgeRequireRefused(t, "oversized", direct, "GET", bridgeMe, bridgeValid(t, big), nil)
		// …while a large but acceptable one passes (no size check mistaken for a replay).
		mid := bridgeUserClaims("editor", "GET", bridgeMe)
		mid["pad"] = strings.Repeat("a", 2000)
		bridgeRequireUser(t, "3 KiB assertion", direct, bridgeMe, bridgeValid(t, mid), editor.ID)
	})

	t.Run("NonRESTRequestsAreRefusedToo", func(t *testing.T) {
		for _, target := range []string{"/", "/?p=1", "/wp-login.php", "/wp-admin/admin-ajax.php?action=heartbeat", "/xmlrpc.php"} {
			method := "GET"
			bridgeRequireRefused(t, "garbage on "+target, direct, method, target, "garbage", nil)
			c := bridgeUserClaims("administrator", method, target)
			c["aud"] = "other.example"
			bridgeRequireRefused(t, "wrong aud on "+target, direct, method, target, bridgeValid(t, c), nil)
		}
	})

	t.Run("IdentityWithoutWordPressUser", func(t *testing.T) {
		// A valid identity whose subject is no WordPress user (a universal
		// API key): WordPress sees an anonymous caller, not an error.
		a := bridgeDo(t, direct, "GET", bridgeMe, bridgeValid(t, bridgeClaimsFor("apikey:e2e/universal", "GET", bridgeMe)), nil)
		if a.Status != 401 || a.Code != "rest_not_logged_in" {
			t.Fatalf("non-user identity on users/me = %d %s, want WordPress's rest_not_logged_in", a.Status, a.Body)
		}
	})

	t.Run("Provisioning", func(t *testing.T) {
		u := bridgeUnique()
		sub := "provider:https://idp.e2e.test#Subject-" + u
		login := "prov" + u
		target := bridgeMe + "?context=edit"
		provision := func(sub string, p map[string]any) string {
			c := bridgeClaimsFor(sub, "GET", target)
			c["amr"] = []string{"provider"}
			c["wp_provision"] = p
			return bridgeValid(t, c)
		}
		req := map[string]any{"login": login, "email": login + "@e2e.test", "role": "author", "display_name": "Provisioned " + u}

		first := bridgeDo(t, direct, "GET", target, provision(sub, req), nil)
		if first.Status != 200 || first.ID == 0 || first.Username != login || len(first.Roles) != 1 || first.Roles[0] != "author" {
			t.Fatalf("first request of a new subject = %d %s, want 200 as a new author %q", first.Status, first.Body, login)
		}
		if got := strings.TrimSpace(stack.PHP(t, fmt.Sprintf(`$u = get_user_by('login', %q); echo $u ? $u->ID . ' ' . implode(',', $u->roles) . ' ' . get_user_meta($u->ID, 'wpauthz_subject', true) : 'none';`, login))); got != fmt.Sprintf("%d author %s", first.ID, sub) {
			t.Fatalf("provisioned user in WordPress: %q", got)
		}
		// Second request: the same user, even if the claim now asks for another role.
		again := map[string]any{"login": login, "email": login + "@e2e.test", "role": "editor"}
		second := bridgeDo(t, direct, "GET", target, provision(sub, again), nil)
		if second.Status != 200 || second.ID != first.ID || len(second.Roles) != 1 || second.Roles[0] != "author" {
			t.Fatalf("second request = %d %s, want 200 as user %d, still an author", second.Status, second.Body, first.ID)
		}
		// Without wp_provision the mapping still holds.
		bridgeRequireUser(t, "mapped subject without wp_provision", direct, bridgeMe, bridgeValid(t, bridgeClaimsFor(sub, "GET", bridgeMe)), first.ID)
		// Subjects are compared exactly (MySQL would ignore case).
		a := bridgeDo(t, direct, "GET", bridgeMe, bridgeValid(t, bridgeClaimsFor(strings.ToUpper(sub), "GET", bridgeMe)), nil)
		if a.Status == 200 {
			t.Fatalf("subject in another case acted as user %d", a.ID)
		}

		// Refusals: nothing is created.
		refused := map[string]map[string]any{
			"administrator":                {"login": "adm" + u, "role": "administrator"},
			"role that does not exist":     {"login": "nor" + u, "role": "superhero"},
			"no role":                      {"login": "nrl" + u},
			"no login":                     {"role": "subscriber"},
			"login WordPress would change": {"login": "Bad Login<" + u + ">", "role": "subscriber"},
			"existing login":               {"login": editor.Login, "role": "subscriber"},
			"existing email":               {"login": "eml" + u, "email": editor.Email, "role": "subscriber"},
			"invalid email":                {"login": "bad" + u, "email": "not-an-email", "role": "subscriber"},
		}
		for name, p := range refused {
			bridgeRequireRefused(t, "provisioning with "+name, direct, "GET", target, provision("provider:e2e#"+name+u, p), nil)
		}
		if got := strings.TrimSpace(stack.PHP(t, fmt.Sprintf(`echo (int) username_exists(%q), ' ', (int) username_exists(%q), ' ', (int) username_exists(%q), ' ', get_user_meta(%d, 'wpauthz_subject', true) === '' ? 'unlinked' : 'LINKED';`,
			"adm"+u, "nor"+u, "eml"+u, editor.ID))); got != "0 0 0 unlinked" {
			t.Fatalf("refused provisioning left traces: %q", got)
		}
		bridgeRequireRefused(t, "wp_provision that is not an object", direct, "GET", target, func() string {
			c := bridgeClaimsFor("provider:e2e#str"+u, "GET", target)
			c["wp_provision"] = "author"
			return bridgeValid(t, c)
		}(), nil)

		// Concurrent first requests of one new subject create one user.
		csub, clogin := "provider:e2e#race-"+u, "race"+u
		hdrs := make([]string, 4)
		for i := range hdrs {
			hdrs[i] = provision(csub, map[string]any{"login": clogin, "role": "subscriber"})
		}
		statuses := bridgeConcurrentEach(t, direct, target, hdrs)
		for _, s := range statuses {
			if s != 200 {
				t.Errorf("concurrent provisioning answered %v, want all 200", statuses)
				break
			}
		}
		if got := strings.TrimSpace(stack.PHP(t, fmt.Sprintf(`global $wpdb; echo $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM $wpdb->usermeta WHERE meta_key = 'wpauthz_subject' AND meta_value = %%s", %q)), ' ', $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM $wpdb->users WHERE user_login = %%s", %q));`, csub, clogin))); got != "1 1" {
			t.Fatalf("concurrent provisioning: subject links and users = %q, want \"1 1\"", got)
		}
	})

	t.Run("ThroughNginxAClientHeaderNeverReachesPHP", func(t *testing.T) {
		nginx := stack.NginxURL
		// Garbage from the client: if it reached PHP, the bridge would
		// answer wpauthz_invalid_identity.
		a := bridgeDo(t, nginx, "GET", bridgeMe, "garbage", nil)
		if a.Code == bridgeCode || a.Status == 200 {
			t.Fatalf("client garbage header through nginx = %d %s: it reached PHP", a.Status, a.Body)
		}
		// A correctly signed administrator assertion from the client (a
		// leaked key, a replayed header) without credentials: nobody.
		a = bridgeDo(t, nginx, "GET", bridgeMe, bridgeValid(t, bridgeUserClaims("administrator", "GET", bridgeMe)), nil)
		if a.Status == 200 || a.ID == admin.ID {
			t.Fatalf("client-signed admin assertion through nginx = %d (user %d): trusted", a.Status, a.ID)
		}
		// With the editor's real credentials: the editor, whatever the client's header says.
		basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(editor.Login+":"+editor.AppPassword))}}
		a = bridgeDo(t, nginx, "GET", bridgeMe, bridgeValid(t, bridgeUserClaims("administrator", "GET", bridgeMe)), basic)
		if a.Status != 200 || a.ID != editor.ID {
			t.Fatalf("editor credentials + client admin assertion through nginx = %d (user %d) %s, want 200 as editor %d", a.Status, a.ID, a.Body, editor.ID)
		}
	})

	t.Run("NotificationCalls", func(t *testing.T) {
		// WordPress changes in one PHP CLI process, with the outgoing HTTP
		// calls captured (pre_http_request) instead of sent: which calls
		// the plugin makes, and how they are signed.
		u := bridgeUnique()
		out := stack.PHP(t, fmt.Sprintf(`
require_once ABSPATH . 'wp-admin/includes/user.php';
add_filter('pre_wp_mail', '__return_false');
$log = array();
add_filter('pre_http_request', function ($pre, $args, $url) use (&$log) {
	$log[] = array('url' => $url, 'method' => $args['method'], 'blocking' => $args['blocking'], 'timeout' => $args['timeout'],
		'body' => $args['body'], 'sig' => $args['headers']['X-WPAuthz-Signature'], 'ctype' => $args['headers']['Content-Type']);
	return array('response' => array('code' => 200, 'message' => 'OK'), 'body' => '{"revoked":true}', 'headers' => array(), 'cookies' => array());
}, 10, 3);
$mark = function ($what) use (&$log) { $log[] = array('mark' => $what); };
$new = function ($name, $role = 'author') {
	$id = wp_insert_user(array('user_login' => $name . '%[1]s', 'user_email' => $name . '%[1]s@e2e.test', 'user_pass' => 'first-pass', 'role' => $role));
	if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
	return $id;
};
$ids = array();
$ids['pw'] = $new('npw');           $mark('created');
wp_set_password('second-pass', $ids['pw']); $mark('wp_set_password');
(new WP_User($ids['pw']))->set_role('editor'); $mark('same user again');
$ids['role'] = $new('nrole');       (new WP_User($ids['role']))->set_role('subscriber'); $mark('set_role');
$ids['add'] = $new('nadd');         (new WP_User($ids['add']))->add_role('editor'); $mark('add_role');
$ids['upd'] = $new('nupd');         wp_update_user(array('ID' => $ids['upd'], 'description' => 'bio')); $mark('profile without password');
wp_update_user(array('ID' => $ids['upd'], 'user_pass' => 'third-pass')); $mark('wp_update_user password');
$ids['reset'] = $new('nreset');     reset_password(get_userdata($ids['reset']), 'reset-pass'); $mark('reset_password');
$ids['app'] = $new('napp');
$app = WP_Application_Passwords::create_new_application_password($ids['app'], array('name' => 'x')); $mark('app password created');
WP_Application_Passwords::delete_application_password($ids['app'], $app[1]['uuid']); $mark('app password revoked');
$ids['del'] = $new('ndel');         wp_delete_user($ids['del']); $mark('deleted');
echo json_encode(array('ids' => $ids, 'log' => $log));`, u))
		var got struct {
			IDs map[string]int64 `json:"ids"`
			Log []struct {
				Mark     string `json:"mark"`
				URL      string `json:"url"`
				Method   string `json:"method"`
				Blocking bool   `json:"blocking"`
				Timeout  float64
				Body     string `json:"body"`
				Sig      string `json:"sig"`
				CType    string `json:"ctype"`
			} `json:"log"`
		}
		if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '{'):]), &got); err != nil {
			t.Fatalf("PHP output %q: %v", out, err)
		}
		var seq []string
		for _, c := range got.Log {
			if c.Mark != "" {
				seq = append(seq, "|"+c.Mark)
				continue
			}
			var body struct {
				Host   string `json:"host"`
				UserID int64  `json:"user_id"`
				Event  string `json:"event"`
			}
			if err := json.Unmarshal([]byte(c.Body), &body); err != nil || body.Host != stack.Host {
				t.Errorf("notification body %q: want {\"host\":%q,…}", c.Body, stack.Host)
			}
			who := ""
			for k, id := range got.IDs {
				if id == body.UserID {
					who = k
				}
			}
			seq = append(seq, who+":"+body.Event)
			if c.Method != "POST" || !c.Blocking || c.Timeout <= 0 || c.Timeout > 10 || !strings.HasSuffix(c.URL, "/v1/user-changed") || c.CType != "application/json" {
				t.Errorf("notification call %s %s blocking=%v timeout=%v content-type=%q", c.Method, c.URL, c.Blocking, c.Timeout, c.CType)
			}
			ts, mac, ok := strings.Cut(c.Sig, ",v1=")
			sec, err := strconv.ParseInt(strings.TrimPrefix(ts, "t="), 10, 64)
			m := hmac.New(sha256.New, []byte(stack.NotifyKey))
			m.Write([]byte(strings.TrimPrefix(ts, "t=") + "." + c.Body))
			if !ok || !strings.HasPrefix(ts, "t=") || err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute ||
				!hmac.Equal([]byte(mac), []byte(fmt.Sprintf("%x", m.Sum(nil)))) {
				t.Errorf("X-WPAuthz-Signature %q does not sign %q with the notification key", c.Sig, c.Body)
			}
		}
		want := []string{
			"|created",
			"pw:password_changed", "|wp_set_password",
			"|same user again", // at most once per user per request
			"role:role_changed", "|set_role",
			"add:role_changed", "|add_role",
			"|profile without password",
			"upd:password_changed", "|wp_update_user password",
			"reset:password_reset", "|reset_password",
			"|app password created",
			"app:application_password_revoked", "|app password revoked",
			"del:user_deleted", "|deleted",
		}
		if strings.Join(seq, " ") != strings.Join(want, " ") {
			t.Fatalf("notifications:\n got %v\nwant %v", seq, want)
		}
	})

	t.Run("NotificationFailureIsLoggedWithoutSecrets", func(t *testing.T) {
		u := bridgeUnique()
		out := stack.PHP(t, fmt.Sprintf(`
$f = tempnam(sys_get_temp_dir(), 'wpauthz-log');
ini_set('error_log', $f);
$n = 0;
add_filter('pre_http_request', function () use (&$n) {
	return ++$n === 1 ? new WP_Error('http_request_failed', 'connection refused')
		: array('response' => array('code' => 401, 'message' => 'Unauthorized'), 'body' => '{}', 'headers' => array(), 'cookies' => array());
});
foreach (array('a', 'b') as $x) {
	$id = wp_insert_user(array('user_login' => 'nf' . $x . '%s', 'user_pass' => 'p', 'role' => 'author'));
	wp_set_password('changed', $id); // must not be fatal, must not throw
}
echo "done\n", file_get_contents($f);
unlink($f);`, u))
		if !strings.HasPrefix(out, "done\n") {
			t.Fatalf("password change with wpauthz unreachable: %q", out)
		}
		if !strings.Contains(out, "wpauthz-bridge: notification password_changed for user") || !strings.Contains(out, "connection refused") || !strings.Contains(out, "HTTP 401") {
			t.Errorf("failed notifications not logged: %q", out)
		}
		if strings.Contains(out, stack.NotifyKey) || strings.Contains(out, "v1=") {
			t.Errorf("the log holds the key or a signature: %q", out)
		}
	})

	t.Run("OneGenericMessage", func(t *testing.T) {
		var msgs []string
		bridgeMessages.Range(func(k, _ any) bool { msgs = append(msgs, k.(string)); return true })
		if len(msgs) != 1 {
			t.Fatalf("refusals said %q: want one generic message that does not tell which check failed", msgs)
		}
	})

	t.Run("NoPHPNoticesAndNoAssertionsInTheLog", func(t *testing.T) {
		// WP_DEBUG is on in the stack; the plugin must add no notice,
		// warning or deprecation, and must never log an assertion.
		marker := bridgeValid(t, bridgeUserClaims("editor", "GET", "/nowhere"))
		bridgeDo(t, direct, "GET", bridgeMe, marker, nil) // refused (htu) and logged
		found := false
		for _, p := range []string{
			filepath.Join(stack.Dir, "wp", "wp-content", "debug.log"),
			filepath.Join(stack.Dir, "php-fpm", "php-error.log"),
			filepath.Join(stack.Dir, "php-fpm", "error.log"),
		} {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			found = true
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "wpauthz-bridge.php") {
					t.Errorf("%s: %s", p, line)
				}
				if strings.Contains(line, strings.Split(marker, ".")[2]) || strings.Contains(line, strings.Split(marker, ".")[1]) {
					t.Errorf("%s logs an assertion: %s", p, line)
				}
			}
		}
		if !found {
			t.Fatal("no PHP log found under " + stack.Dir + ": the stack writes php-fpm/error.log, so the harness changed")
		}
	})
}

// bridgeB64Padded is base64url with '=' padding (not allowed in a JWS).
func bridgeB64Padded(t *testing.T, v any) string {
	t.Helper()
	b, _ := json.Marshal(v)
	for len(b)%3 == 0 { // make sure there is padding to add
		b = append(b, ' ')
	}
	return base64.URLEncoding.EncodeToString(b)
}

// bridgeStdAlphabet encodes claims in the standard alphabet, padding a
// claim until the encoding needs '+' or '/'.
func bridgeStdAlphabet(t *testing.T, c bridgeClaims) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		c["x"] = strings.Repeat("?", i) + ">>>"
		b, _ := json.Marshal(c)
		s := base64.RawStdEncoding.EncodeToString(b)
		if strings.ContainsAny(s, "+/") {
			return s
		}
	}
	t.Fatal("no standard-alphabet encoding found")
	return ""
}

// bridgeNonCanonical changes the unused low bits of the last character,
// which lenient decoders ignore.
func bridgeNonCanonical(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		return seg + "A" // impossible length instead
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}

// bridgeConcurrent sends the same identity n times at once.
func bridgeConcurrent(t *testing.T, n int, base, target, identity string) []int {
	hdrs := make([]string, n)
	for i := range hdrs {
		hdrs[i] = identity
	}
	return bridgeConcurrentEach(t, base, target, hdrs)
}

// bridgeConcurrentEach sends GET target once per identity, all at once,
// with net/http directly (stack.Request may not be called off the test
// goroutine). Transport errors count as status 0.
func bridgeConcurrentEach(t *testing.T, base, target string, identities []string) []int {
	t.Helper()
	out := make([]int, len(identities))
	var wg sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Timeout: 30 * time.Second}
	for i, id := range identities {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("GET", base+target, nil)
			if err != nil {
				return
			}
			req.Host = stack.Host
			req.Header.Set("X-WPAuthz-Identity", id)
			<-start
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			out[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	return out
}
