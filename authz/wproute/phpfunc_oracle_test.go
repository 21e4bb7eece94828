/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The PHP function oracle: inputs of the batch reader answered by PHP's and
// WordPress's own functions (hack/wproute-oracle/phpfuncs.php). To refresh
// it (`make batch-oracle` does):
//
//	go test ./authz/wproute -run TestPHPFunctionOracle -wproute.write-php-cases
//	php hack/wproute-oracle/phpfuncs.php /usr/share/wordpress
//	go test ./authz/wproute -run TestPHPFunctionOracle
var writePHPCases = flag.Bool("wproute.write-php-cases", false, "rewrite testdata/php_func_cases.json from phpFunctionCases")

type phpFuncCases struct {
	JSON        [][]byte `json:"json"`
	Query       [][]byte `json:"query"`
	ContentType [][]byte `json:"content_type"`
	SubPath     [][]byte `json:"sub_path"`
}

type phpFuncAnswers struct {
	PHP         string            `json:"php"`
	Inputs      phpFuncCases      `json:"inputs"` // what was asked`
	JSON        []json.RawMessage `json:"json"`
	Query       []json.RawMessage `json:"query"`
	ContentType []bool            `json:"content_type"`
	SubPath     []struct {
		Error bool    `json:"error"`
		Path  *[]byte `json:"path"`
		Query *[]byte `json:"query"`
		Host  bool    `json:"host"`
	} `json:"sub_path"`
}

func phpFunctionCases() phpFuncCases {
	var c phpFuncCases
	b := func(list ...string) [][]byte {
		out := make([][]byte, len(list))
		for i, s := range list {
			out[i] = []byte(s)
		}
		return out
	}
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	c.JSON = b(
		`{"requests":[{"path":"/a"}]}`, `{"a":1,"a":2}`, `{"a":1,"b":2,"a":3}`, `{"a":{"x":1},"a":[2]}`, `{"":1}`, `{"\u0000":1}`,
		`{"\u0070ath":1,"path":2}`, `{"0":1,"1":2}`, `{"1":1,"0":2}`, `{"01":1,"1":2}`, `{"-1":1,"-0":2}`, `{"9223372036854775807":1}`,
		`{"9223372036854775808":1}`, `{"-9223372036854775808":1}`, `{" 1":1,"1 ":2,"+1":3,"1.0":4}`, `[1,[2,[3]],{"a":[]}]`, `[]`, `{}`,
		`"s"`, `1`, `-0`, `1e400`, `-1e400`, `123456789012345678901234567890`, `1.5E+3`, `true`, `false`, `null`, ``, ` `, "\t\n\r {} \t\n\r",
		"\f{}", "\v{}", "\ufeff{}", `{"a":1,}`, `[1,]`, `{"a":1}//`, `{'a':1}`, `NaN`, `Infinity`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `1E+`,
		`"\u00e9"`, `"\uD834\uDD1E"`, `"\ud800\udc00"`, `"\udbff\udfff"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`, `"\\ud800"`,
		`"\\\ud800"`, `"\u12G4"`, `"\a"`, `"\/"`, "\"\x01\"", "\"\x7f\"", "\"\u2028\"", "\"\xff\"", "{\"\xff\":1}", "{\"a\":1}\xff",
		"\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", `{"a":1} {"b":2}`, `{"a":1}{"b":2}`, `{"a" 1}`, `{"a":}`, `{a:1}`,
		nest("[", "]", 510), nest("[", "]", 511), nest("[", "]", 512), nest(`{"a":`, "}", 511), nest(`{"a":`, "}", 512),
		`{"requests":null,"requests":[1]}`, `{"Requests":1,"requests":2,"REQUESTS":3}`, "\"\x00\"", "{\"a\":\"\\u0000\"}",
	)
	c.Query = b(
		"requests=1", "requests[]=1", "requests[]=1&requests[]=2", "requests[0]=a&requests[0]=b", "requests[0][path]=/a&requests[0][method]=PUT",
		"requests[][path]=/a&requests[][method]=PUT", "requests[5]=a&requests[]=b", "requests[5]=a&requests[2]=b&requests[]=c",
		"requests[x]=a&requests[]=b", "requests=x&requests[0]=y", "requests[0]=y&requests=x", "requests[0][a]=1&requests[0]=2&requests[0][b]=3",
		"requests[0]=1&requests[0][a]=2", "requests[a[b]=1", "requests[a]b]=1", "requests[a][b=1", "requests[a]x[b]=1", "requests[][=1",
		"requests[]]=1", "requests[[a]]=1", "requests[%5D]=1", "requests%5B0%5D=1", "requests%5b0%5d=1", "requests[0%5D=1", "requests[ 0]=1",
		"requests[0 ]=1", "requests[00]=1&requests[0]=2", "requests[-0]=1", "requests[+1]=1", "requests[1.0]=1", "requests[007]=1",
		"requests[9223372036854775807]=1", "requests[9223372036854775808]=1", "requests[a.b]=1", "requests[a b]=1", "requests[a+b]=1",
		"requests.a=1", "requests a=1", " requests=1", "+requests[0]=1", "%20requests[0]=1", "requests%00[0]=1", "requests[0]%00=1",
		"requests[0\x00]=1", "requests[]=%00", "requests[]=a%zz", "requests[]=%2", "requests[]=%41%42", "requests[]=+", "requests[%2B]=1",
		"Requests[0]=1", "REQUESTS=1", "requests=", "requests", "requests[]", "&&requests[0]=1&&", "requests[0]=1;requests[1]=2",
		"requests[0]=a=b", "requests[0]==", "=requests", "requests[0][0][0][0][0][0][0][0]=deep", "requests[]=1&requests[]=2&requests[]=3&requests[1]=x",
		"requests[a]=1&requests[b]=2&requests[a]=3", "requests[%00]=1", "requests[\xff]=1", "requests[]=\xff",
	)
	c.ContentType = b(
		"application/json", "APPLICATION/JSON", "Application/Json", "application/json; charset=utf-8", "application/json;charset=utf-8",
		"application/json;", ";application/json", " application/json", "application/json ", "\tapplication/json", "application/json\t",
		"application/json\v", "\vapplication/json", "application/json\f", "application/json\x00", "\x00application/json", "application/json\n",
		"text/plain", "", "0", "application", "json", "/json", "application/", "application/jsonx", "application/json+oembed",
		"application/json+oembedx", "application/json+other", "application/x-json", "application/x+json", "application/+json",
		"application/vnd.api+json", "application/ld+json", "application/a+b+json", "application/a/b+json", "application/a:b+json",
		"application/a@b+json", "application/a[b]+json", "application/a{b}+json", "application/a~b+json", "application/a|b+json",
		"application/a%b+json", "application/a'b+json", "application/a*b+json", "application/a b+json", "application/a;b+json",
		"application/a,b+json", "text/plain, application/json", "text/plain,application/json", "text/plain application/json",
		"text/plain;application/json", "xapplication/json", "x application/json", "application/json, text/plain", "text/json",
		"application/javascript", "multipart/form-data", "application/x-www-form-urlencoded", "application/json-patch+json",
		"application/problem+json; charset=utf-8", "APPLICATION/VND.API+JSON", "application/json\r", "application/json\xff",
		"\xffapplication/json", "application/\xff+json", "application/_+json", "application/-+json", "application/^+json", "application/`+json",
		";x application/json", "/x application/json",
	)
	c.SubPath = b(
		"/wp/v2/posts", "/wp/v2/posts?x=1", "/wp/v2/posts#f", "/wp/v2/posts#f?x", "/wp/v2/posts?x#f", "/wp/v2/posts?", "/wp/v2/posts#",
		"/wp/v2/posts?#", "/wp/v2/posts??", "/wp/v2/posts##", "//evil/wp/v2/posts", "///wp/v2/posts", "/", "/?x", "/#x", "", "wp/v2/posts",
		"http://evil/wp/v2/posts", "/wp/v2/posts:80", "/wp/v2/posts@evil", "/a:b@c/d", "/wp/v2/posts\\", "/wp/v2/po sts", "/wp/v2/posts\x00",
		"/wp/v2/posts\x01", "/wp/v2/posts\x7f", "/wp/v2/posts\n", "/wp/v2/posts?\n", "/wp/v2/%70osts", "/wp/v2/posts;x", "/wp/v2/posts&x",
		"/wp/v2/posts/../pages", "/wp/v2/./posts", "/WP/V2/POSTS", "/wp/v2/posts/", "/wp/v2/\xc3\xa9", "/wp/v2/\xff", "/:", "/:/x",
		"/wp/v2/posts?_method=GET", "/wp/v2/posts?a=1&_method=GET", "/wp/v2/posts?%5Fmethod=GET", "/wp/v2/posts?_method[]=x",
		"/wp/v2/posts?.method=x", "/wp/v2/posts?a;_method=x", "/wp/v2/posts?_methodx=1", "/p?q#r?s#t", "/p#q?r",
	)
	return c
}

// phpCanon is phpfuncs.php's canon() for a wproute PHP value.
func phpCanon(v any) any {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	switch v := v.(type) {
	case *phpArray:
		items := []any{}
		for _, k := range v.keys {
			kind, key := "string", k.str
			if k.isNum {
				kind, key = "int", fmt.Sprint(k.num)
			}
			items = append(items, []any{kind, b64(key), phpCanon(v.vals[k])})
		}
		return map[string]any{"array": items}
	case string:
		return map[string]any{"string": b64(v)}
	case jsonNumber:
		return map[string]any{"number": true}
	case bool:
		return map[string]any{"bool": v}
	}
	return map[string]any{"null": true}
}

// sameJSON compares a PHP answer with a Go value in the same shape.
func sameJSON(t *testing.T, php json.RawMessage, goValue any) bool {
	t.Helper()
	var p, g any
	if err := json.Unmarshal(php, &p); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(goValue)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(p, g)
}

func TestPHPFunctionOracle(t *testing.T) {
	cases := phpFunctionCases()
	if *writePHPCases {
		b, err := json.MarshalIndent(cases, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "php_func_cases.json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote the cases; now run hack/wproute-oracle/phpfuncs.php")
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", "php_funcs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var php phpFuncAnswers
	if err := json.Unmarshal(b, &php); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(php.Inputs, cases) || len(php.JSON) != len(cases.JSON) || len(php.Query) != len(cases.Query) ||
		len(php.ContentType) != len(cases.ContentType) || len(php.SubPath) != len(cases.SubPath) {
		t.Fatal("testdata/php_funcs.json does not answer phpFunctionCases; regenerate it (see the comment above TestPHPFunctionOracle)")
	}

	for i, in := range cases.JSON {
		got, err := phpJSONDecode(in)
		phpErr := strings.Contains(string(php.JSON[i]), `"error"`)
		switch {
		case phpErr != (err != nil):
			t.Errorf("json_decode(%q): PHP %s, wproute error %v", in, php.JSON[i], err)
		case err == nil && !sameJSON(t, php.JSON[i], phpCanon(got)):
			t.Errorf("json_decode(%q): PHP %s, wproute %v", in, php.JSON[i], phpCanon(got))
		}
	}

	refused := 0
	for i, in := range cases.Query {
		got, err := phpArrayVar(string(in), false, false, "requests")
		if err != nil {
			if !errors.Is(err, ErrBatchUndecided) {
				t.Errorf("query %q: error %v does not wrap ErrBatchUndecided", in, err)
			}
			refused++
			continue
		}
		want := any(map[string]any{"unset": true})
		if got != nil {
			want = phpCanon(got)
		}
		if !sameJSON(t, php.Query[i], want) {
			t.Errorf("parse_str(%q)['requests']: PHP %s, wproute %v", in, php.Query[i], want)
		}
	}

	for i, in := range cases.ContentType {
		if got := isJSONMediaType(string(in)); got != php.ContentType[i] {
			t.Errorf("is_json_content_type(%q): PHP %v, wproute %v", in, php.ContentType[i], got)
		}
	}

	accepted := 0
	for i, in := range cases.SubPath {
		route, err := batchSubRoute(string(in))
		if err != nil {
			continue // refused: nothing to agree on
		}
		accepted++
		p := php.SubPath[i]
		if p.Error || p.Host || p.Path == nil {
			t.Errorf("sub path %q: wproute routes it to %q, wp_parse_url gives error=%v host=%v path=%v", in, route, p.Error, p.Host, p.Path)
			continue
		}
		if want, err := canonicalRoute(string(*p.Path)); err != nil || want != route {
			t.Errorf("sub path %q: wproute route %q, wp_parse_url path %q", in, route, *p.Path)
		}
		if p.Query != nil && parsePHPVars(string(*p.Query), false, false).method.set {
			t.Errorf("sub path %q: accepted with _method in the query %q", in, *p.Query)
		}
	}
	t.Logf("PHP %s: %d json_decode inputs, %d queries (%d refused), %d content types, %d sub paths (%d accepted)",
		php.PHP, len(cases.JSON), len(cases.Query), refused, len(cases.ContentType), len(cases.SubPath), accepted)
}
