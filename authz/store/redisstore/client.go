package redisstore

import (
	"fmt"

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
}

// NewClient builds the redis.UniversalClient ClientOptions describe.
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
		return redis.NewClient(opt), nil
	case "cluster":
		opt, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
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
		return redis.NewFailoverClient(opt), nil
	default:
		return nil, fmt.Errorf("redis mode %q: want single, cluster or sentinel", o.Mode)
	}
}
