package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
)

// ClientOptions pick and configure a client from one URL.
type ClientOptions struct {
	// URL is redis://[user:password@]host:port[/db][?options] (rediss://
	// for TLS). Cluster: more seed nodes as &addr=host:port. Sentinel: the
	// sentinels' addresses (the first in the authority, more as
	// &addr=host:port), master_name=NAME required; user:password in the
	// authority are the sentinels' own, the data nodes' password goes in
	// &password= or Password. Options are go-redis's URL options
	// (dial_timeout, read_timeout, …).
	URL string
	// Mode is "single" (default), "cluster" or "sentinel".
	Mode string
	// Password, when set, overrides the URL's (e.g. read from a Secret).
	Password string
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates (rediss:// only); empty: the system's roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key, for
	// servers that require one (tls-auth-clients yes).
	CertFile, KeyFile string
}

// tlsConfig completes the TLS settings a rediss:// URL turned on (cfg is
// nil for redis://) with o's CA and client certificate.
func (o ClientOptions) tlsConfig(cfg *tls.Config) error {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil
	}
	if cfg == nil {
		return errors.New("a CA or client certificate needs a rediss:// URL")
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("redis CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("redis CA %s: no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("a redis client certificate needs both the certificate and the key file")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("redis client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	return nil
}

// NewClient builds the redis.UniversalClient ClientOptions describe. Its
// calls honour their context's deadline (ContextTimeoutEnabled): without
// it go-redis ignores deadlines and waits for its own socket timeouts (5 s
// per read, and a command is retried), which is how a frozen Redis used
// to hold requests for 5-10 s (Store.CallTimeout).
func NewClient(o ClientOptions) (redis.UniversalClient, error) {
	switch o.Mode {
	case "", "single":
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		if err := o.tlsConfig(opt.TLSConfig); err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewClient(opt), nil
	case "cluster":
		opt, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		if err := o.tlsConfig(opt.TLSConfig); err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewClusterClient(opt), nil
	case "sentinel":
		opt, err := redis.ParseFailoverURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis sentinel URL: %w", err)
		}
		if opt.MasterName == "" {
			return nil, fmt.Errorf("redis sentinel URL: master_name=NAME is required")
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		if err := o.tlsConfig(opt.TLSConfig); err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(opt), nil
	default:
		return nil, fmt.Errorf("redis mode %q: want single, cluster or sentinel", o.Mode)
	}
}
