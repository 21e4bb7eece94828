package standalone

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/wpauthz/wpauthz/test/testbin"
)

// guard bounds how long a test waits for something the server must do by
// itself (close a connection, end a call). It is not a measurement: the
// timeouts under test are a few hundred milliseconds, and waiting this
// long without the event means the server never does it.
const guard = 20 * time.Second

// trickler is a client that sends a request's head at once and its body one
// byte at a time, and notices when the server gives up on it.
type trickler struct {
	conn   net.Conn
	closed chan string // the server's answer (possibly empty) once it closed the connection
}

func dialTrickler(t *testing.T, addr, head string) *trickler {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	tr := &trickler{conn: conn, closed: make(chan string, 1)}
	go func() {
		b, _ := io.ReadAll(conn) // until the server closes (or the test does)
		tr.closed <- string(b)
	}()
	return tr
}

// trickle sends up to n body bytes, one every `every`, and stops as soon as
// the server has closed the connection. It returns how many bytes were
// sent before that, and what the server answered; n when the server read
// them all.
func (tr *trickler) trickle(t *testing.T, n int, every time.Duration) (int, string) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case answer := <-tr.closed:
			return i, answer
		default:
		}
		if _, err := tr.conn.Write([]byte{'x'}); err != nil {
			return i, tr.wait(t)
		}
		time.Sleep(every)
	}
	return n, ""
}

func (tr *trickler) wait(t *testing.T) string {
	t.Helper()
	select {
	case answer := <-tr.closed:
		return answer
	case <-time.After(guard):
		t.Fatalf("the server did not close the connection within %s", guard)
		return ""
	}
}

func postHead(target, host string, length int) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", target, host, length)
}

// TestHardening7_TrickledBodiesAreCutOff: a client that trickles a body one
// byte at a time is cut off after --http-read-timeout on the token
// endpoint, on /check and on the internal listener, long before it has
// sent what it declared. (The old server waited for every byte.)
func TestHardening7_TrickledBodiesAreCutOff(t *testing.T) {
	dir := testbin.Samples(t)
	internal := freePort(t)
	s := start(t, dir, "--internal-addr", internal, "--http-read-timeout", "500ms")
	const declared = 150 // bytes, one per 40 ms: 6 s to send them all
	for _, tc := range []struct{ name, addr, target string }{
		{"token endpoint", s.httpAddr, "/wp-json/api/v1/token"},
		{"check", s.httpAddr, "/check/wp-json/wp/v2/posts"},
		{"internal listener", internal, "/v1/user-changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := dialTrickler(t, tc.addr, postHead(tc.target, "localhost", declared))
			sent, answer := tr.trickle(t, declared, 40*time.Millisecond)
			if sent >= declared {
				t.Fatalf("the server read the whole trickled body (%d bytes) and answered %q", sent, firstLine(answer))
			}
			if strings.HasPrefix(answer, "HTTP/1.1 2") {
				t.Fatalf("a cut-off request was answered %q", firstLine(answer))
			}
			t.Logf("cut off after %d of %d bytes; answer %q", sent, declared, firstLine(answer))
		})
	}
}

// TestHardening7_IdleConnectionsAreClosed: a keep-alive connection that
// sends nothing after its request is closed after --http-idle-timeout, on
// both HTTP listeners.
func TestHardening7_IdleConnectionsAreClosed(t *testing.T) {
	dir := testbin.Samples(t)
	internal := freePort(t)
	s := start(t, dir, "--internal-addr", internal, "--http-idle-timeout", "300ms")
	for _, tc := range []struct{ name, addr, target string }{
		{"public", s.httpAddr, "/healthz"},
		{"internal", internal, "/v1/user-changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", tc.target)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				t.Fatal("the server did not keep the connection alive: nothing to test")
			}
			conn.SetReadDeadline(time.Now().Add(guard))
			_, err = br.ReadByte()
			if !errors.Is(err, io.EOF) {
				t.Fatalf("idle keep-alive connection still open: read gave %v", err)
			}
		})
	}
}

// TestHardening7_BodyReadsAreCapped: with --http-max-body-reads 2, two
// slow bodies in flight make the next request with a body answer 503
// wpauthz_busy with Retry-After, in WordPress's error shape; requests
// without a body (health probes, nginx's auth_request) still pass, and
// the slots come back when the slow clients go.
func TestHardening7_BodyReadsAreCapped(t *testing.T) {
	dir := testbin.Samples(t)
	s := start(t, dir, "--http-max-body-reads", "2", "--http-read-timeout", "1m")
	var slow []*trickler
	for range 2 {
		tr := dialTrickler(t, s.httpAddr, postHead("/wp-json/api/v1/token", "localhost", 1000))
		tr.conn.Write([]byte{'x'})
		slow = append(slow, tr)
	}
	post := func() (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+s.httpAddr+"/check/wp-json/wp/v2/posts", strings.NewReader(`{"title":"x"}`))
		req.Host = "localhost"
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// The slow clients hold their slots once the server has read their
	// heads; poll until it has.
	var resp *http.Response
	var body []byte
	for range 200 {
		if resp, body = post(); resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no request was refused while 2 slow bodies were in flight: last answer %d %s", resp.StatusCode, body)
	}
	var e struct {
		Code string `json:"code"`
		Data struct {
			Status int `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Code != "wpauthz_busy" || e.Data.Status != 503 {
		t.Fatalf("refusal body %s (%v), want wpauthz_busy in WordPress's shape", body, err)
	}
	if resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("refusal headers %v", resp.Header)
	}
	if r, err := http.Get("http://" + s.httpAddr + "/healthz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("a request without a body was refused while the body reads were full: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	for _, tr := range slow {
		tr.conn.Close()
	}
	for range 200 {
		if resp, body = post(); resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the slow clients left: %d %s, want the check's own 401", resp.StatusCode, body)
	}
}

// TestHardening7_GRPCListenerLimits: on the gRPC listener, a Check call
// whose message never comes is ended after --grpc-check-timeout, and a
// connection without calls is closed after --grpc-idle-timeout.
func TestHardening7_GRPCListenerLimits(t *testing.T) {
	dir := testbin.Samples(t)
	s := start(t, dir, "--grpc-check-timeout", "300ms", "--grpc-idle-timeout", "300ms")
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Run("call without a message", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/envoy.service.auth.v3.Authorization/Check")
		if err != nil {
			t.Fatal(err)
		}
		var out healthpb.HealthCheckResponse // never decoded: the call must fail
		err = cs.RecvMsg(&out)
		if ctx.Err() != nil {
			t.Fatalf("the server waited %s for a message that never came", guard)
		}
		if code := status.Code(err); code != codes.DeadlineExceeded && code != codes.Canceled {
			t.Fatalf("call ended with %v, want the server's deadline", err)
		}
	})

	t.Run("idle connection", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		for st := conn.GetState(); st == connectivity.Ready; st = conn.GetState() {
			if !conn.WaitForStateChange(ctx, st) {
				t.Fatalf("idle connection still open after %s", guard)
			}
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// BenchmarkHardening7_SlowClientsRSS is the measurement: the
// server's resident memory while 150 clients each declare a 1 MiB /check
// body and send one byte, in three waves (the memory of a wave that went
// away is reused, and so touched, by the next). Reported: RSS idle and
// under the slow clients, in MiB, and how many were refused with 503.
func BenchmarkHardening7_SlowClientsRSS(b *testing.B) {
	dir := testbin.Samples(b)
	s := start(b, dir, "--log-level", "error", "--http-read-timeout", "1m")
	const clients, waves = 150, 3
	head := "POST /check/wp-json/batch/v1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"
	var idle, loaded, refused int
	for b.Loop() {
		time.Sleep(time.Second)
		idle = rssMiB(b, s.cmd.Process.Pid)
		var conns []net.Conn
		for range waves {
			for _, c := range conns {
				c.Close()
			}
			conns = conns[:0]
			time.Sleep(500 * time.Millisecond)
			for range clients {
				c, err := net.Dial("tcp", s.httpAddr)
				if err != nil {
					b.Fatal(err)
				}
				io.WriteString(c, head)
				conns = append(conns, c)
			}
			time.Sleep(time.Second)
		}
		loaded = rssMiB(b, s.cmd.Process.Pid)
		refused = 0
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			buf := make([]byte, 64)
			if n, _ := c.Read(buf); strings.Contains(string(buf[:n]), " 503 ") {
				refused++
			}
			c.Close()
		}
	}
	b.ReportMetric(float64(idle), "idle-RSS-MiB")
	b.ReportMetric(float64(loaded), "slow-RSS-MiB")
	b.ReportMetric(float64(refused), "refused-503")
}

func rssMiB(tb testing.TB, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}
