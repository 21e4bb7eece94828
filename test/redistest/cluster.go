package redistest

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters only, on loopback.
type Cluster struct {
	Nodes []*Server
	// URL names every node, for redis.ParseClusterURL:
	// redis://first?addr=second&addr=third.
	URL string
}

// StartCluster starts n (at least 3) redis-server processes with
// --cluster-enabled yes, joins them with redis-cli --cluster create (no
// replicas), waits for cluster_state:ok on every node, and stops them in
// tb's cleanup.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	cli := Require(tb, "redis-cli")
	c := &Cluster{}
	addrs := make([]string, 0, n)
	for range n {
		s := Start(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(FreePort(tb)), "--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range c.Nodes {
		host, port, _ := net.SplitHostPort(s.Addr)
		for {
			out, _ := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("cluster not ok on %s:\n%s", s.Addr, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c.URL = "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		if i == 0 {
			c.URL += "?addr=" + a
		} else {
			c.URL += "&addr=" + a
		}
	}
	return c
}
