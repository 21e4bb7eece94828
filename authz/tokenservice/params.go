package tokenservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBodyBytes bounds a token endpoint request body.
const MaxBodyBytes = 64 << 10

// maxParamBytes bounds one parameter value (a password is refused past
// 4,096 bytes by WordPress anyway; tokens are a few hundred bytes).
const maxParamBytes = 16 << 10

var errBadParams = errors.New("tokenservice: malformed parameters")

// params reads the request's parameters as WordPress's
// WP_REST_Request::get_params() merges them: the query string, overridden
// by a form body (application/x-www-form-urlencoded or multipart/form-data),
// overridden by a JSON body (application/json). Only the names in want are
// kept; any of them given as an array ("username[]=…", a JSON array or
// object), a body over MaxBodyBytes, or a body that does not parse is
// errBadParams.
func params(r *http.Request, want ...string) (map[string]string, error) {
	out := map[string]string{}
	wanted := func(k string) bool {
		for _, w := range want {
			if k == w {
				return true
			}
		}
		return false
	}
	if i := strings.IndexByte(r.RequestURI, '?'); i >= 0 {
		if err := formValues(r.RequestURI[i+1:], wanted, out); err != nil {
			return nil, err
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return out, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil || len(body) > MaxBodyBytes {
		return nil, errBadParams
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	mt, mp, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return out, jsonValues(body, wanted, out)
	case "application/x-www-form-urlencoded":
		return out, formValues(string(body), wanted, out)
	case "multipart/form-data":
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.Header.Set("Content-Type", mime.FormatMediaType(mt, mp))
		if err := r2.ParseMultipartForm(MaxBodyBytes); err != nil {
			return nil, errBadParams
		}
		if r2.MultipartForm != nil && len(r2.MultipartForm.File) > 0 {
			return nil, errBadParams
		}
		for k, vs := range r2.MultipartForm.Value {
			if err := put(k, vs[len(vs)-1], wanted, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// Another content type: WordPress ignores the body for parameters.
	return out, nil
}

// formValues parses a query string or form body the way PHP fills $_GET
// and $_POST for plain names: "+" is a space, the last of repeated names
// wins, and "name[...]" makes an array (refused for the names we read).
func formValues(q string, wanted func(string) bool, out map[string]string) error {
	for _, pair := range strings.Split(q, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			continue // PHP keeps going; such a key is not one we read
		}
		base, isArray := key, false
		if i := strings.IndexByte(key, '['); i > 0 {
			base, isArray = key[:i], true
		}
		if !wanted(base) {
			continue
		}
		if isArray {
			return errBadParams
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return errBadParams
		}
		if err := put(key, val, wanted, out); err != nil {
			return err
		}
	}
	return nil
}

func jsonValues(body []byte, wanted func(string) bool, out map[string]string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return errBadParams
	}
	for k, raw := range obj {
		if !wanted(k) {
			continue
		}
		var s string
		switch {
		case json.Unmarshal(raw, &s) == nil:
		case bytes.Equal(raw, []byte("true")):
			s = "1"
		case bytes.Equal(raw, []byte("false")), bytes.Equal(raw, []byte("null")):
			s = ""
		default:
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return errBadParams // arrays and objects
			}
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				return errBadParams
			}
			s = string(n)
		}
		if err := put(k, s, wanted, out); err != nil {
			return err
		}
	}
	return nil
}

func put(k, v string, wanted func(string) bool, out map[string]string) error {
	if !wanted(k) {
		return nil
	}
	if len(v) > maxParamBytes {
		return errBadParams
	}
	out[k] = v
	return nil
}
