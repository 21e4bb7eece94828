package tokenservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParams: the token endpoints' parameter reader, on any Content-Type,
// body and query. It either refuses with errBadParams or returns only the
// names asked for, each within maxParamBytes, the same on a second read;
// and where Go's own parsers read the request the same way PHP does (a JSON
// object, a form or query without arrays or ";"), the value is the one
// WordPress's get_params() takes: JSON over the form over the query, the
// last of repeated names.
//
// The package has no tests of its own (test/tokenflow drives the endpoints
// end to end); the seeds are the request shapes of its TestLoginShapesAndUse
// and TestBadInputs, but for the 70 KiB body (a seed that size slows every
// mutation down; the bound is a LimitReader).
func FuzzParams(f *testing.F) {
	const form = "application/x-www-form-urlencoded"
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("username", "jane")
	_ = mw.WriteField("password", "pw")
	_ = mw.Close()
	for _, s := range []struct{ ctype, body, query string }{
		{form, "username=jane&password=pw", ""},
		{"application/json", `{"username":"jane","password":"pw"}`, ""},
		{"", "", "username=jane&password=pw"},
		{mw.FormDataContentType(), mp.String(), ""},
		{"application/json", `{"username":"jane","password":"pw"}`, "password=wrong"},
		{"application/json", `{"username":"jane",`, ""},
		{"application/json", `["jane"]`, ""},
		{"application/json", `{"username":["jane"],"password":"x"}`, ""},
		{"application/json", `{"username":{"a":1},"password":"x"}`, ""},
		{"application/json; charset=UTF-8", `{"username":true,"password":1e3,"all":null}`, ""},
		{form, "username[]=jane&password=pw", ""},
		{"", "", "username[0]=jane&password=x"},
		{form, "username=%zz&password=x", ""},
		{form, "username=j+a%20ne&username=sam&password=x", "username=q"},
		{"text/plain", "username=jane", "username=q"},
		{"multipart/form-data", "--x\r\n", ""},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"refresh_token\"; filename=\"f\"\r\n\r\nv\r\n--x--\r\n", ""},
	} {
		f.Add(s.ctype, []byte(s.body), s.query)
	}
	want := []string{"username", "password", "refresh_token", "token", "all"}
	read := func(ctype string, body []byte, query string) (map[string]string, error) {
		r := &http.Request{
			Method:     "POST",
			RequestURI: "/wp-json/api/v1/token?" + query,
			URL:        &url.URL{Path: "/wp-json/api/v1/token", RawQuery: query},
			Header:     http.Header{"Content-Type": {ctype}},
			Body:       io.NopCloser(bytes.NewReader(body)),
		}
		return params(r, want...)
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte, query string) {
		out, err := read(ctype, body, query)
		if err != nil {
			if !errors.Is(err, errBadParams) {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		for k, v := range out {
			if !contains(want, k) {
				t.Fatalf("name %q was not asked for", k)
			}
			if len(v) > maxParamBytes {
				t.Fatalf("%s: %d bytes", k, len(v))
			}
		}
		if again, err := read(ctype, body, query); err != nil || !maps.Equal(again, out) {
			t.Fatalf("second read differs: %v %v", again, err)
		}
		// Where Go's parsers agree with PHP's, the value is get_params()'s.
		mt, _, _ := mime.ParseMediaType(ctype)
		hasBody := len(bytes.TrimSpace(body)) > 0
		var obj map[string]any
		if hasBody && mt == "application/json" && json.Unmarshal(body, &obj) != nil {
			t.Fatalf("JSON body %q that json.Unmarshal refuses was accepted", body)
		}
		formBody := hasBody && mt == "application/x-www-form-urlencoded"
		formVals, queryVals := plainValues(string(body)), plainValues(query)
		for _, k := range want {
			var wantV string
			var present bool
			switch raw, inJSON := obj[k]; {
			case hasBody && mt == "multipart/form-data":
				continue // Go's multipart reader is the one params uses
			case inJSON:
				s, ok := raw.(string)
				if !ok {
					continue // numbers and booleans: PHP's spelling
				}
				wantV, present = s, true
			case formBody && formVals == nil:
				continue
			case formBody && formVals.Has(k):
				wantV, present = lastOf(formVals, k), true
			case queryVals == nil:
				continue
			case queryVals.Has(k):
				wantV, present = lastOf(queryVals, k), true
			}
			if got, ok := out[k]; ok != present || got != wantV {
				t.Fatalf("%s = %q (present %v), get_params() takes %q (present %v)", k, got, ok, wantV, present)
			}
		}
	})
}

// plainValues is url.ParseQuery's reading of q when PHP reads it the same
// way (no "name[...]" arrays, no ";" that Go refuses); nil otherwise.
func plainValues(q string) url.Values {
	if strings.ContainsAny(q, "[;") || strings.Contains(q, "%5B") || strings.Contains(q, "%5b") {
		return nil
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return nil
	}
	return v
}

func lastOf(v url.Values, k string) string { return v[k][len(v[k])-1] }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
