package redisstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/test/redistest"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all PEM, into dir.
type pki struct{ ca, serverCert, serverKey, clientCert, clientKey, otherCA string }

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	serial := int64(1)
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, der
	}
	caKey := newKey()
	ca, caDER := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "wpauthz test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, nil, caKey)
	srvKey, cliKey, otherKey := newKey(), newKey(), newKey()
	_, srvDER := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "redis"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey, srvKey)
	_, cliDER := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "wpauthz"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey, cliKey)
	_, otherDER := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, nil, otherKey)
	return pki{
		ca:         writePEM("ca.pem", "CERTIFICATE", caDER),
		serverCert: writePEM("server.pem", "CERTIFICATE", srvDER),
		serverKey:  writePEM("server-key.pem", "PRIVATE KEY", keyDER(srvKey)),
		clientCert: writePEM("client.pem", "CERTIFICATE", cliDER),
		clientKey:  writePEM("client-key.pem", "PRIVATE KEY", keyDER(cliKey)),
		otherCA:    writePEM("other-ca.pem", "CERTIFICATE", otherDER),
	}
}

// TestTLSAndPassword: rediss:// with a private CA, a client certificate
// (tls-auth-clients yes) and a password from a file (what
// --redis-ca-file, --redis-cert-file, --redis-key-file and
// --redis-password-file give NewClient), and every way of getting one of
// them wrong.
func TestTLSAndPassword(t *testing.T) {
	p := newPKI(t, t.TempDir())
	const password = "s3cret-redis-password"
	tlsPort := redistest.FreePort(t)
	redistest.Start(t, "--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", p.serverCert, "--tls-key-file", p.serverKey,
		"--tls-ca-cert-file", p.ca, "--tls-auth-clients", "yes", "--requirepass", password)
	url := "rediss://127.0.0.1:" + strconv.Itoa(tlsPort) + "/0?dial_timeout=1s&max_retries=0"
	good := redisstore.ClientOptions{URL: url, Password: password, CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.clientKey}

	rdb, err := redisstore.NewClient(good)
	if err != nil {
		t.Fatal(err)
	}
	s := openOn(t, rdb, "wpauthz:tls:", redisstore.Options{})
	ctx := context.Background()
	if err := s.RevokeToken(ctx, "jti-over-tls", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("revoke over TLS: %v", err)
	}
	if !s.TokenRevoked("jti-over-tls") {
		t.Fatal("revocation over TLS not in the local view")
	}

	ping := func(o redisstore.ClientOptions) error {
		c, err := redisstore.NewClient(o)
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
	mutate := func(f func(*redisstore.ClientOptions)) redisstore.ClientOptions { o := good; f(&o); return o }
	bad := map[string]redisstore.ClientOptions{
		"wrong password":              mutate(func(o *redisstore.ClientOptions) { o.Password = "guess" }),
		"no password":                 mutate(func(o *redisstore.ClientOptions) { o.Password = "" }),
		"server signed by another CA": mutate(func(o *redisstore.ClientOptions) { o.CAFile = p.otherCA }),
		"system roots only":           mutate(func(o *redisstore.ClientOptions) { o.CAFile = "" }),
		"no client certificate":       mutate(func(o *redisstore.ClientOptions) { o.CertFile, o.KeyFile = "", "" }),
		"plaintext to the TLS port": mutate(func(o *redisstore.ClientOptions) {
			o.URL = "redis" + url[len("rediss"):]
			o.CAFile, o.CertFile, o.KeyFile = "", "", ""
		}),
		"certificate without its key":      mutate(func(o *redisstore.ClientOptions) { o.KeyFile = "" }),
		"CA file that is not PEM":          mutate(func(o *redisstore.ClientOptions) { o.CAFile = p.serverKey }),
		"CA with a plaintext URL":          mutate(func(o *redisstore.ClientOptions) { o.URL = "redis" + url[len("rediss"):] }),
		"missing CA file":                  mutate(func(o *redisstore.ClientOptions) { o.CAFile = filepath.Join(t.TempDir(), "none.pem") }),
		"client key not matching its cert": mutate(func(o *redisstore.ClientOptions) { o.KeyFile = p.serverKey }),
	}
	if err := ping(good); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for name, o := range bad {
		if err := ping(o); err == nil {
			t.Errorf("%s: connected", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
