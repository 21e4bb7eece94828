package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Redis Sentinel topology on loopback: two data nodes (one
// master, one replica at the start; failovers swap them) watched by three
// sentinels with quorum 2, every process in its own directory on its own
// port.
type Sentinel struct {
	MasterName string
	Nodes      [2]*Server // Nodes[0] is the first master
	Sentinels  []*Server
	// URL names every sentinel and the master, for redis.ParseFailoverURL
	// (wpauthz serve --redis-mode sentinel --redis-url URL):
	// redis://s1?addr=s2&addr=s3&master_name=NAME.
	URL string
}

// StartSentinel starts the topology, waits until every sentinel knows the
// replica and the other sentinels and can authorize a failover, and stops
// everything in tb's cleanup. A missing redis-sentinel skips or fails the
// test as Require says.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	bin := Require(tb, "redis-sentinel")
	st := &Sentinel{MasterName: "wpauthz"}
	st.Nodes[0] = Start(tb)
	_, mport, _ := net.SplitHostPort(st.Nodes[0].Addr)
	st.Nodes[1] = Start(tb, "--replicaof", "127.0.0.1", mport)
	st.waitLinkUp(tb, st.Nodes[1])
	addrs := make([]string, 0, 3)
	for range 3 {
		s := startSentinel(tb, bin, st.MasterName, st.Nodes[0].Addr)
		st.Sentinels = append(st.Sentinels, s)
		addrs = append(addrs, s.Addr)
	}
	st.URL = "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2] + "&master_name=" + st.MasterName
	st.waitQuorum(tb)
	return st
}

func startSentinel(tb testing.TB, bin, name, master string) *Server {
	tb.Helper()
	dir, err := os.MkdirTemp("", "rsn")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	port := FreePort(tb)
	mhost, mport, _ := net.SplitHostPort(master)
	// Sentinel rewrites its configuration file: it lives in dir.
	conf := filepath.Join(dir, "sentinel.conf")
	cfg := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
dir %s
logfile %s
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %[4]s 1000
sentinel failover-timeout %[4]s 10000
sentinel parallel-syncs %[4]s 1
`, port, dir, filepath.Join(dir, "redis.log"), name, mhost, mport)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir, port: port, args: []string{conf}}
	s.URL = "redis://" + s.Addr
	s.start(tb)
	tb.Cleanup(s.Kill)
	return s
}

// waitQuorum waits until every sentinel sees the replica and its two peers
// and reports that a failover could be authorized.
func (st *Sentinel) waitQuorum(tb testing.TB) {
	tb.Helper()
	st.eventually(tb, 30*time.Second, "sentinels never agreed on the topology", func(ctx context.Context) (bool, string) {
		for _, s := range st.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
			q, err := c.CkQuorum(ctx, st.MasterName).Result()
			peers, _ := c.Sentinels(ctx, st.MasterName).Result()
			reps, _ := c.Replicas(ctx, st.MasterName).Result()
			c.Close()
			if err != nil || !strings.HasPrefix(q, "OK 3 usable") || len(peers) != 2 || len(reps) != 1 || strings.Contains(reps[0]["flags"], "down") {
				return false, fmt.Sprintf("%s: ckquorum %q %v, %d peers, replicas %v", s.Addr, q, err, len(peers), reps)
			}
		}
		return true, ""
	})
}

// MasterAddr is the master's address as every sentinel agrees on it.
func (st *Sentinel) MasterAddr(tb testing.TB) string {
	tb.Helper()
	var addr string
	st.eventually(tb, 30*time.Second, "sentinels disagree on the master", func(ctx context.Context) (bool, string) {
		addr = ""
		for _, s := range st.Sentinels {
			a, err := st.masterBy(ctx, s)
			if err != nil || (addr != "" && a != addr) {
				return false, fmt.Sprintf("%s says %q (%v), another %q", s.Addr, a, err, addr)
			}
			addr = a
		}
		return true, ""
	})
	return addr
}

func (st *Sentinel) masterBy(ctx context.Context, s *Server) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, st.MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Master and Replica are the data nodes in their current roles.
func (st *Sentinel) Master(tb testing.TB) *Server {
	tb.Helper()
	addr := st.MasterAddr(tb)
	for _, n := range st.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	tb.Fatalf("sentinels name an unknown master %s", addr)
	return nil
}

func (st *Sentinel) Replica(tb testing.TB) *Server {
	tb.Helper()
	m := st.Master(tb)
	if st.Nodes[0] == m {
		return st.Nodes[1]
	}
	return st.Nodes[0]
}

// Failover asks a sentinel to fail over (SENTINEL FAILOVER: the master is
// alive and is demoted) and waits until every sentinel names the replica
// as master and the replica says it is one. The old master may still
// believe it is one for a while (sentinels reconfigure it when they next
// look, up to 10s later): WaitReplica waits for that. It returns the new
// master.
func (st *Sentinel) Failover(tb testing.TB) *Server {
	tb.Helper()
	next := st.Replica(tb)
	st.waitLinkUp(tb, next)
	st.eventually(tb, 30*time.Second, "SENTINEL FAILOVER refused", func(ctx context.Context) (bool, string) {
		c := redis.NewSentinelClient(&redis.Options{Addr: st.Sentinels[0].Addr})
		defer c.Close()
		// Refused ("INPROG", "NOGOODSLAVE") while sentinels settle.
		if err := c.Failover(ctx, st.MasterName).Err(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	st.waitPromoted(tb, next)
	return next
}

// WaitReplica waits until n replicates, in sync, from its master.
func (st *Sentinel) WaitReplica(tb testing.TB, n *Server) {
	tb.Helper()
	st.waitLinkUp(tb, n)
}

// KillMaster kills the master (SIGKILL) and waits until the sentinels
// have promoted the replica. The killed node stays down; Restart brings
// it back empty, and the sentinels then make it a replica. It returns the
// new master.
func (st *Sentinel) KillMaster(tb testing.TB) (killed, promoted *Server) {
	tb.Helper()
	old, next := st.Master(tb), st.Replica(tb)
	st.waitLinkUp(tb, next)
	old.Kill()
	st.waitPromoted(tb, next)
	return old, next
}

func (st *Sentinel) waitPromoted(tb testing.TB, next *Server) {
	tb.Helper()
	st.eventually(tb, 60*time.Second, "replica never promoted", func(ctx context.Context) (bool, string) {
		for _, s := range st.Sentinels {
			if a, err := st.masterBy(ctx, s); err != nil || a != next.Addr {
				return false, fmt.Sprintf("%s names %q (%v), want %s", s.Addr, a, err, next.Addr)
			}
		}
		role := info(ctx, next.Addr, "role")
		return role == "master", "role " + role
	})
}

// waitLinkUp waits until n is a replica in sync with its master.
func (st *Sentinel) waitLinkUp(tb testing.TB, n *Server) {
	tb.Helper()
	st.eventually(tb, 60*time.Second, "replica link never up", func(ctx context.Context) (bool, string) {
		role, link := info(ctx, n.Addr, "role"), info(ctx, n.Addr, "master_link_status")
		return role == "slave" && link == "up", n.Addr + ": role " + role + ", link " + link
	})
}

// info reads one field of INFO replication ("" when unreachable).
func info(ctx context.Context, addr, field string) string {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	s, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// eventually polls cond until it holds, failing tb with the last reason
// and the sentinels' logs after d.
func (st *Sentinel) eventually(tb testing.TB, d time.Duration, what string, cond func(ctx context.Context) (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok, why := cond(ctx)
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, s := range st.Sentinels {
				b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
				fmt.Fprintf(&logs, "--- sentinel %s\n%s", s.Addr, b)
			}
			tb.Fatalf("%s within %v: %s\n%s", what, d, why, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
