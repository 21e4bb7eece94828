package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/configdir"
)

// The benchmark's hosts. Each is served by its own WPApiPolicy: a policy
// verifies one JWT algorithm.
const (
	namespace = "bench"
	hostES256 = "es256.bench.example"
	hostRS256 = "rs256.bench.example"
	hostBasic = "basic.bench.example"
)

// Sizes of the generated configurations.
const (
	tokensPerAlg  = 1000  // distinct JWTs per algorithm, cycled by ghz
	basicUsers    = 1000  // WordPress users for the Basic workload
	baseKeys      = 1000  // ApiKeys in the base configuration
	largeKeys     = 10000 // ApiKeys in the large configuration
	largePolicies = 100   // WPApiPolicies in the large configuration
	tokenTTL      = 12 * time.Hour
)

// fixture is everything the workloads need from the generated
// configurations: the folders wpauthz serves and the credentials that are
// valid in both of them.
type fixture struct {
	baseDir, largeDir string
	es256Tokens       []string
	rs256Tokens       []string
	apiKeys           []string // the first baseKeys keys: present in both configurations

	// basicDir serves hostBasic: Basic authentication against a static
	// WordPress users file. It is a folder of its own so that, while
	// Basic is missing or broken, only its workload is skipped: basicErr
	// says why.
	basicDir    string
	basicLogins []string // login:password, base64-encoded
	basicErr    error
}

// keyMaterial is the PEM of one policy's keys.
type keyMaterial struct {
	jwtKID, jwtPEM string
	identityPEM    string
}

// generate writes two configuration folders under dir and mints the tokens:
//
//   - base: the policies for hostES256 (ES256 JWTs, baseKeys ApiKeys) and
//     hostRS256 (RS256 JWTs);
//   - large: the same two policies, largePolicies-2 more for other hosts,
//     and largeKeys ApiKeys (one Secret each, as the controller creates
//     them) on the ES256 policy, the first baseKeys identical to base's.
//
// Both folders are loaded and compiled here, exactly as serve will, so a
// configuration mistake fails before any server starts.
func generate(dir string) (*fixture, error) {
	fx := &fixture{baseDir: filepath.Join(dir, "config-base"), largeDir: filepath.Join(dir, "config-large")}
	for _, d := range []string{fx.baseDir, fx.largeDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}

	es, err := newKeys("ES256")
	if err != nil {
		return nil, err
	}
	rs, err := newKeys("RS256")
	if err != nil {
		return nil, err
	}
	keys := make([]string, largeKeys)
	for i := range keys {
		if keys[i], err = apikey.Generate(); err != nil {
			return nil, err
		}
	}
	fx.apiKeys = keys[:baseKeys]

	// base
	if err := writeFile(filepath.Join(fx.baseDir, "policies.yaml"), func(w io.Writer) {
		writePolicy(w, "bench-es256", hostES256, "ES256", es)
		writePolicy(w, "bench-rs256", hostRS256, "RS256", rs)
	}); err != nil {
		return nil, err
	}
	if err := writeAPIKeyFiles(fx.baseDir, "bench-es256", keys[:baseKeys]); err != nil {
		return nil, err
	}

	// large: the same two policies plus fillers, each with its own keys.
	// Filler keys are ES256 (cheap to generate); what they add is
	// configuration size, not work on the measured path.
	if err := writeFile(filepath.Join(fx.largeDir, "policies.yaml"), func(w io.Writer) {
		writePolicy(w, "bench-es256", hostES256, "ES256", es)
		writePolicy(w, "bench-rs256", hostRS256, "RS256", rs)
	}); err != nil {
		return nil, err
	}
	var fillerErr error
	if err := writeFile(filepath.Join(fx.largeDir, "policies-more.yaml"), func(w io.Writer) {
		for i := 3; i <= largePolicies; i++ {
			k, err := newKeys("ES256")
			if err != nil {
				fillerErr = err
				return
			}
			writePolicy(w, fmt.Sprintf("site-%03d", i), fmt.Sprintf("site-%03d.bench.example", i), "ES256", k)
		}
	}); err != nil {
		return nil, err
	}
	if fillerErr != nil {
		return nil, fillerErr
	}
	if err := writeAPIKeyFiles(fx.largeDir, "bench-es256", keys); err != nil {
		return nil, err
	}

	fx.basicDir = filepath.Join(dir, "config-basic")
	fx.basicLogins, fx.basicErr = generateBasic(fx.basicDir)

	// Compile both folders; mint the tokens with the base policies' keys
	// (the large folder holds the very same keys).
	for _, d := range []struct {
		dir            string
		policies, keys int
	}{{fx.largeDir, largePolicies, largeKeys}, {fx.baseDir, 2, baseKeys}} {
		snap, err := compileDir(d.dir)
		if err != nil {
			return nil, err
		}
		if n := len(snap.Policies()); n != d.policies {
			return nil, fmt.Errorf("%s: %d policies compiled, want %d", d.dir, n, d.policies)
		}
		es := snap.Lookup(hostES256)
		if es == nil || es.APIKeys == nil || es.APIKeys.Len() != d.keys {
			return nil, fmt.Errorf("%s: policy for %s lacks its %d API keys", d.dir, hostES256, d.keys)
		}
		if d.dir != fx.baseDir {
			continue
		}
		now := time.Now()
		for _, m := range []struct {
			pol *policy.Policy
			out *[]string
		}{{es, &fx.es256Tokens}, {snap.Lookup(hostRS256), &fx.rs256Tokens}} {
			for i := range tokensPerAlg {
				uid := int64(1000 + i)
				tok, err := m.pol.JWT.Mint(jwtauth.Claims{
					Subject: strconv.FormatInt(uid, 10), UserID: uid,
					Login: fmt.Sprintf("editor%04d", i), Roles: []string{"editor"},
				}, tokenTTL, now)
				if err != nil {
					return nil, err
				}
				*m.out = append(*m.out, tok)
			}
		}
	}
	return fx, nil
}

func compileDir(dir string) (*policy.Snapshot, error) {
	l, err := configdir.NewLoader(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	b, err := l.Load()
	if err != nil {
		return nil, fmt.Errorf("generated configuration %s does not load: %w", dir, err)
	}
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		return nil, fmt.Errorf("generated configuration %s does not compile: %v", dir, problems[0])
	}
	return snap, nil
}

func newKeys(alg string) (keyMaterial, error) {
	var priv any
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return keyMaterial{}, fmt.Errorf("unsupported algorithm %s", alg)
	}
	if err != nil {
		return keyMaterial{}, err
	}
	jwtPEM, err := pkcs8PEM(priv)
	if err != nil {
		return keyMaterial{}, err
	}
	_, idKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keyMaterial{}, err
	}
	idPEM, err := pkcs8PEM(idKey)
	if err != nil {
		return keyMaterial{}, err
	}
	return keyMaterial{jwtKID: strings.ToLower(alg) + "-bench", jwtPEM: jwtPEM, identityPEM: idPEM}, nil
}

func pkcs8PEM(key any) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func writeFile(path string, fill func(io.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writePolicy writes a WPApiPolicy shaped like config/samples/local (public
// reads, disabled user listing and settings, editors write, API-key-only
// shop orders, everything else needs an identity) and its two Secrets.
func writePolicy(w io.Writer, name, host, alg string, k keyMaterial) {
	fmt.Fprintf(w, `---
apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  hosts: [%[3]q]
  restPrefix: /wp-json
  defaultAction: Authenticate
  rules:
    - name: public-index
      routes: ["/"]
      methods: [GET]
      action: Allow
    - name: public-content
      routes: ["/wp/v2/posts", "/wp/v2/posts/*", "/wp/v2/pages", "/wp/v2/pages/*", "/wp/v2/categories", "/wp/v2/tags"]
      methods: [GET]
      action: Allow
    - name: token-endpoints
      routes: ["/api/v1/token", "/api/v1/token/**"]
      action: Allow
    - name: no-user-enumeration
      routes: ["/wp/v2/users"]
      methods: [GET]
      action: Deny
    - name: settings-disabled
      routes: ["/wp/v2/settings"]
      action: Deny
    - name: editors-write
      routes: ["/wp/v2/posts", "/wp/v2/posts/**", "/wp/v2/pages", "/wp/v2/pages/**"]
      methods: [POST, PUT, PATCH, DELETE]
      action: Authenticate
      roles: [editor, administrator]
    - name: shop-orders
      routes: ["/wc/v3/orders", "/wc/v3/orders/**"]
      action: Authenticate
      roles: [shop_manager, administrator]
      authMethods: [APIKey]
  authentication:
    jwt:
      issuer: https://%[3]s/wp-json
      audiences: [%[3]q]
      algorithm: %[4]s
      keysSecretRef:
        name: %[1]s-jwt
      signingKeyID: %[5]s
      accessTokenTTL: 15m
    apiKeys:
      header: X-API-Key
  identity:
    signingKeySecretRef:
      name: %[1]s-identity
      key: ed25519.pem
    ttl: 30s
---
apiVersion: v1
kind: Secret
metadata:
  name: %[1]s-jwt
  namespace: %[2]s
type: Opaque
stringData:
  %[5]s: |
%[6]s---
apiVersion: v1
kind: Secret
metadata:
  name: %[1]s-identity
  namespace: %[2]s
type: Opaque
stringData:
  ed25519.pem: |
%[7]s`, name, namespace, host, alg, k.jwtKID, indent(k.jwtPEM, "    "), indent(k.identityPEM, "    "))
}

// keysPerFile is how many ApiKeys (each with its Secret) one file holds.
//
// The keys are spread over files because configdir's loader pads every
// document with the lines before it (so that YAML errors carry the file's
// line numbers) and so parses a file in time and garbage quadratic in its
// length: one file of 10,000 ApiKeys and 10,000 Secrets (200,000 lines)
// takes ~36 s and allocates ~6 GB to load. In files of 100 keys the padding
// is negligible. See BENCHMARKS.md.
const keysPerFile = 100

// writeAPIKeyFiles writes keys into apikeys-NNN.yaml files of keysPerFile
// each.
func writeAPIKeyFiles(dir, policyName string, keys []string) error {
	for first := 0; first < len(keys); first += keysPerFile {
		last := min(first+keysPerFile, len(keys))
		path := filepath.Join(dir, fmt.Sprintf("apikeys-%03d.yaml", first/keysPerFile))
		if err := writeFile(path, func(w io.Writer) { writeAPIKeys(w, policyName, first, keys[first:last]) }); err != nil {
			return err
		}
	}
	return nil
}

// writeAPIKeys writes one ApiKey and one Secret per key, numbered from
// first: even-numbered keys are universal keys carrying shop_manager,
// odd-numbered ones act as a WordPress user (a shop manager).
func writeAPIKeys(w io.Writer, policyName string, first int, keys []string) {
	for j, k := range keys {
		i := first + j
		name := fmt.Sprintf("key-%05d", i)
		user := ""
		if i%2 == 1 {
			user = fmt.Sprintf("\n  user:\n    id: %d", 20000+i)
		}
		fmt.Fprintf(w, `---
apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  policyRef:
    name: %[3]s%[4]s
  roles: [shop_manager]
  secretRef:
    name: %[1]s
    key: key
---
apiVersion: v1
kind: Secret
metadata:
  name: %[1]s
  namespace: %[2]s
type: Opaque
stringData:
  key: %[5]s
`, name, namespace, policyName, user, k)
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(prefix)
		b.WriteString(line)
	}
	return b.String()
}

// generateBasic writes the Basic configuration: a policy for hostBasic that
// accepts WordPress passwords, and a static users file of basicUsers
// editors whose passwords are hashed as WordPress 6.8 hashes them
// ("$wp$2y$…": bcrypt over base64(HMAC-SHA384(password, "wp-sha384"))), at
// bcrypt's minimum cost so that generating them takes seconds. The cost
// only matters to the first check of each credential; the benchmark
// measures warm checks (the directory's credential cache).
func generateBasic(dir string) ([]string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	k, err := newKeys("ES256")
	if err != nil {
		return nil, err
	}
	logins := make([]string, basicUsers)
	var users strings.Builder
	users.WriteString("usingApplicationPasswords: false\nusers:\n")
	for i := range basicUsers {
		login := fmt.Sprintf("editor%04d", i)
		pass := fmt.Sprintf("bench-password-%04d-%s", i, strings.Repeat("x", 8))
		m := hmac.New(sha512.New384, []byte("wp-sha384"))
		m.Write([]byte(pass))
		h, err := bcrypt.GenerateFromPassword([]byte(base64.StdEncoding.EncodeToString(m.Sum(nil))), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		// PHP writes $2y$; x/crypto writes $2a$ for the same algorithm.
		hash := "$wp$2y$" + strings.TrimPrefix(string(h), "$2a$")
		fmt.Fprintf(&users, "  - {id: %d, login: %s, email: %s@bench.example, pass: '%s', roles: [editor]}\n", 5000+i, login, login, hash)
		logins[i] = base64.StdEncoding.EncodeToString([]byte(login + ":" + pass))
	}
	if err := writeFile(filepath.Join(dir, "policy.yaml"), func(w io.Writer) {
		writePolicy(w, "bench-basic", hostBasic, "ES256", k)
		fmt.Fprintf(w, `---
apiVersion: v1
kind: Secret
metadata:
  name: bench-users
  namespace: %s
type: Opaque
stringData:
  users.yaml: |
%s`, namespace, indent(users.String(), "    "))
	}); err != nil {
		return nil, err
	}
	// writePolicy's policy has no Basic and no WordPress users: add them.
	path := filepath.Join(dir, "policy.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	const anchor = "    apiKeys:\n      header: X-API-Key\n"
	if !strings.Contains(string(b), anchor) {
		return nil, fmt.Errorf("policy template changed: no apiKeys block")
	}
	b = []byte(strings.Replace(string(b), anchor, anchor+`    basic:
      accept: [Password]
  wordpress:
    usersSecretRef:
      name: bench-users
      key: users.yaml
`, 1))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	// Whether Basic then works is for the verification pass to say.
	if _, err := compileDir(dir); err != nil {
		return nil, err
	}
	return logins, nil
}
