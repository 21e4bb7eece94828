package identity

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// BenchmarkSign: the per-request cost on the allow path.
func BenchmarkSign(b *testing.B) {
	s := newTestSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(jane, "shop.example.com", "GET", "/wp-json/wc/v3/orders/123", 30*time.Second, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignParallel(b *testing.B) {
	s := newTestSigner(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Sign(jane, "shop.example.com", "GET", "/wp-json/wc/v3/orders/123", 30*time.Second, testNow); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkEd25519Sign is the floor: the signature alone (sign, what Sign
// uses) over a signing input of the same size as BenchmarkSign's.
func BenchmarkEd25519Sign(b *testing.B) {
	s := newTestSigner(b)
	tok, _ := s.Sign(jane, "shop.example.com", "GET", "/wp-json/wc/v3/orders/123", 30*time.Second, testNow)
	input := []byte(tok[:strings.LastIndexByte(tok, '.')])
	b.ReportAllocs()
	for b.Loop() {
		sign(s.key, input)
	}
}

// BenchmarkEd25519SignStdlib is the same signature with crypto/ed25519,
// which sign replaced (see the package comment).
func BenchmarkEd25519SignStdlib(b *testing.B) {
	s := newTestSigner(b)
	tok, _ := s.Sign(jane, "shop.example.com", "GET", "/wp-json/wc/v3/orders/123", 30*time.Second, testNow)
	input := []byte(tok[:strings.LastIndexByte(tok, '.')])
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(s.key, input)
	}
}

// The two claim encoders Sign could use: hand-written appends (what it
// does) and a struct through encoding/json (the alternative measured).
func BenchmarkClaimsAppend(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var scratch [512]byte
		c := scratch[:0]
		c = append(c, `{"sub":`...)
		c = appendString(c, jane.Subject)
		c = append(c, `,"login":`...)
		c = appendString(c, jane.Login)
		c = append(c, `,"roles":[`...)
		for i, r := range jane.Roles {
			if i > 0 {
				c = append(c, ',')
			}
			c = appendString(c, r)
		}
		c = append(c, `],"amr":["jwt"],"aud":`...)
		c = appendString(c, "shop.example.com")
		c = append(c, `,"htm":`...)
		c = appendString(c, "GET")
		c = append(c, `,"htu":`...)
		c = appendString(c, "/wp-json/wc/v3/orders/123")
		c = append(c, `,"jti":"AAAAAAAAAAAAAAAA","iat":1750000000,"exp":1750000030}`...)
		if len(c) == 0 {
			b.Fatal("empty")
		}
	}
}

func BenchmarkClaimsEncodingJSON(b *testing.B) {
	type claims struct {
		Sub   string   `json:"sub"`
		Login string   `json:"login,omitempty"`
		Roles []string `json:"roles"`
		Amr   []string `json:"amr"`
		Aud   string   `json:"aud"`
		Htm   string   `json:"htm"`
		Htu   string   `json:"htu"`
		Jti   string   `json:"jti"`
		Iat   int64    `json:"iat"`
		Exp   int64    `json:"exp"`
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := json.Marshal(&claims{jane.Subject, jane.Login, jane.Roles, []string{jane.Method}, "shop.example.com", "GET",
			"/wp-json/wc/v3/orders/123", "AAAAAAAAAAAAAAAA", 1750000000, 1750000030})
		if err != nil || len(c) == 0 {
			b.Fatal(err)
		}
	}
}
