package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/testbin"
)

// replica is one running `wpauthz serve` and its clients.
type replica struct {
	name      string
	base      string // http://127.0.0.1:port
	debugAddr string // the soak build's goroutine counter
	proc      *testbin.Process
	pid       int
	conn      *grpc.ClientConn
	grpc      authv3.AuthorizationClient
	http      *http.Client
}

const requestTimeout = 5 * time.Second

// startReplica runs bin serve on the policy folder dir with Redis at
// redisURL, and waits until it is ready.
func startReplica(h *harness, name, bin, dir, redisURL string, conns int) *replica {
	r := &replica{name: name, base: "http://" + freeport.Addr(h), debugAddr: freeport.Addr(h)}
	grpcAddr := freeport.Addr(h)
	cmd := exec.Command(bin, "serve", "--config-dir", dir, "--grpc-addr", grpcAddr, "--http-addr", strings.TrimPrefix(r.base, "http://"),
		"--redis-url", redisURL, "--log-level", "warn", "--log-format", "text")
	cmd.Env = append(os.Environ(), "WPAUTHZ_SOAK_DEBUG_ADDR="+r.debugAddr)
	// If this program dies without its cleanups, the server goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r.proc = testbin.Start(h, cmd)
	r.pid = cmd.Process.Pid

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns, conns, conns
	r.http = &http.Client{Transport: tr, Timeout: requestTimeout}
	h.Cleanup(tr.CloseIdleConnections)

	deadline := time.Now().Add(30 * time.Second)
	for r.status("/readyz") != 200 {
		if exited, err := r.proc.Exited(); exited {
			h.Fatalf("%s exited (%v):\n%s", name, err, r.proc.Log.String())
		}
		if time.Now().After(deadline) {
			h.Fatalf("%s not ready after 30s:\n%s", name, r.proc.Log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		h.Fatal(err)
	}
	h.Cleanup(func() { conn.Close() })
	r.conn, r.grpc = conn, authv3.NewAuthorizationClient(conn)
	return r
}

func (r *replica) status(path string) int {
	resp, err := r.http.Get(r.base + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// answer is a check's outcome: the HTTP status (200: allowed) and
// whether an allow carried the identity header.
type answer struct {
	status   int
	identity bool
}

// checkHTTP is a forward-auth check on /check/<path> (Envoy http_service).
func (r *replica) checkHTTP(ctx context.Context, method, path string, headers map[string]string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+"/check"+path, nil)
	if err != nil {
		return answer{}, err
	}
	req.Host = "localhost"
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, identity: resp.Header.Get("X-WPAuthz-Identity") != ""}, nil
}

// checkGRPC is an Envoy ext_authz Check.
func (r *replica) checkGRPC(ctx context.Context, method, path string, headers map[string]string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := r.grpc.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Host: "localhost", Path: path, Headers: headers,
		}},
	}})
	if err != nil {
		return answer{}, err
	}
	if resp.GetStatus().GetCode() == 0 {
		if resp.GetOkResponse() == nil {
			return answer{}, fmt.Errorf("OK without an OkResponse")
		}
		var id bool
		for _, h := range resp.GetOkResponse().GetHeaders() {
			id = id || h.GetHeader().GetKey() == "X-WPAuthz-Identity"
		}
		return answer{status: 200, identity: id}, nil
	}
	d := resp.GetDeniedResponse()
	if d == nil {
		return answer{}, fmt.Errorf("gRPC status %d without a DeniedResponse", resp.GetStatus().GetCode())
	}
	return answer{status: int(d.GetStatus().GetCode())}, nil
}

// post is a form POST to a token endpoint.
func (r *replica) post(ctx context.Context, path string, form url.Values, bearer string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", r.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Host = "localhost"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, nil
}

// goroutines is the server's goroutine count from the soak build's
// debug listener; -1 when it does not answer (a binary built without
// -tags soak).
func (r *replica) goroutines() int64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + r.debugAddr + "/goroutines")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}
