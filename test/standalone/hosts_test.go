package standalone

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wpauthz/wpauthz/test/testbin"
)

// TestHardening8_BinaryRefusesInexactHosts: the real binary refuses a host
// it cannot match exactly as the proxy does with 400 wpauthz_invalid_host on
// every adapter: Envoy's gRPC Check (:authority), /check (Host) and /auth
// (X-Forwarded-Host, a list taken whole).
func TestHardening8_BinaryRefusesInexactHosts(t *testing.T) {
	dir := testbin.Samples(t)
	s := start(t, dir)
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	grpcCheck := func(host string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: host, Path: "/wp-json/wp/v2/posts",
				Headers: map[string]string{":authority": host},
			}},
		}})
		if err != nil {
			t.Fatalf("Check(%q): %v", host, err)
		}
		if resp.GetOkResponse() != nil {
			return 200, ""
		}
		d := resp.GetDeniedResponse()
		if d.GetStatus().GetCode() == typev3.StatusCode_BadRequest {
			return 400, d.GetBody()
		}
		return int(d.GetStatus().GetCode()), d.GetBody()
	}
	httpCode := func(head string) (int, string) {
		tr := dialTrickler(t, s.httpAddr, head)
		answer := tr.wait(t)
		var status int
		fmt.Sscanf(answer, "HTTP/1.1 %d", &status)
		_, body, _ := strings.Cut(answer, "\r\n\r\n")
		return status, body
	}
	code := func(body string) string {
		var e struct{ Code string }
		_ = json.Unmarshal([]byte(body), &e)
		return e.Code
	}

	if st, _ := grpcCheck("localhost:9001"); st != 200 {
		t.Fatalf("gRPC control: %d", st)
	}
	if st, body := httpCode("GET /check/wp-json/wp/v2/posts HTTP/1.1\r\nHost: LocalHost:8080\r\nConnection: close\r\n\r\n"); st != 200 {
		t.Fatalf("/check control: %d %s", st, body)
	}
	for _, host := range []string{"localhost.", "localhost.:9001", "localhost:x", "localhost:1:2", "localhost,evil.test"} {
		if st, body := grpcCheck(host); st != 400 || code(body) != "wpauthz_invalid_host" {
			t.Errorf("gRPC :authority %q: %d %s", host, st, body)
		}
		if st, body := httpCode("GET /check/wp-json/wp/v2/posts HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"); st != 400 || code(body) != "wpauthz_invalid_host" {
			t.Errorf("/check Host %q: %d %s", host, st, body)
		}
		if st, body := httpCode("GET /auth HTTP/1.1\r\nHost: wpauthz\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /wp-json/wp/v2/posts\r\nX-Forwarded-Host: " + host + "\r\nConnection: close\r\n\r\n"); st != 400 || code(body) != "wpauthz_invalid_host" {
			t.Errorf("/auth X-Forwarded-Host %q: %d %s", host, st, body)
		}
	}
	// Two X-Forwarded-Host headers are a list too.
	if st, body := httpCode("GET /auth HTTP/1.1\r\nHost: wpauthz\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /wp-json/wp/v2/posts\r\nX-Forwarded-Host: localhost\r\nX-Forwarded-Host: evil.test\r\nConnection: close\r\n\r\n"); st != 400 || code(body) != "wpauthz_invalid_host" {
		t.Errorf("/auth with two X-Forwarded-Host: %d %s", st, body)
	}
}
