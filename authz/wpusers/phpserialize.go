package wpusers

import (
	"errors"
	"strconv"
	"strings"
)

// This file reads the PHP serialize() format as far as WordPress user meta
// needs it: {prefix}capabilities (an array of role/capability => bool) and
// _application_passwords (a list of arrays). Objects, references and
// custom serialization (O:, C:, r:, R:) are refused: WordPress never
// stores them there, and unserializing them is how PHP object injection
// starts.

// phpValue is one unserialized value: nil (N;), bool, int64, float64,
// string, or *phpArray.
type phpValue any

// phpArray keeps PHP's insertion order; keys are int64 or string.
type phpArray struct {
	keys []phpValue
	vals []phpValue
}

// get returns the value for a string key.
func (a *phpArray) get(key string) (phpValue, bool) {
	for i, k := range a.keys {
		if s, ok := k.(string); ok && s == key {
			return a.vals[i], true
		}
	}
	return nil, false
}

var errSerialized = errors.New("wpusers: malformed PHP-serialized value")

// Limits: user meta is at most a few kilobytes; anything bigger or deeper
// is not something WordPress wrote.
const (
	maxSerializedLen   = 1 << 20
	maxSerializedDepth = 8
	maxArrayLen        = 10000
)

// phpUnserialize parses exactly one value filling all of s.
func phpUnserialize(s string) (phpValue, error) {
	if len(s) > maxSerializedLen {
		return nil, errSerialized
	}
	p := phpParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(s) {
		return nil, errSerialized
	}
	return v, nil
}

type phpParser struct {
	s string
	i int
}

func (p *phpParser) expect(c byte) error {
	if p.i >= len(p.s) || p.s[p.i] != c {
		return errSerialized
	}
	p.i++
	return nil
}

// int reads a decimal integer up to the terminator.
func (p *phpParser) int(term byte) (int64, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != term {
		p.i++
	}
	if p.i >= len(p.s) {
		return 0, errSerialized
	}
	n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if err != nil {
		return 0, errSerialized
	}
	p.i++
	return n, nil
}

func (p *phpParser) value(depth int) (phpValue, error) {
	if depth > maxSerializedDepth || p.i+1 >= len(p.s) {
		return nil, errSerialized
	}
	t := p.s[p.i]
	if t == 'N' {
		p.i++
		return nil, p.expect(';')
	}
	p.i++
	if err := p.expect(':'); err != nil {
		return nil, err
	}
	switch t {
	case 'b':
		n, err := p.int(';')
		if err != nil || (n != 0 && n != 1) {
			return nil, errSerialized
		}
		return n == 1, nil
	case 'i':
		return p.int(';')
	case 'd':
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ';' {
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, errSerialized
		}
		text := p.s[start:p.i]
		switch text {
		case "INF", "-INF", "NAN": // what PHP writes for those
		default:
			// strconv also reads "inf", "Infinity", hex floats and
			// underscores, which PHP's unserialize refuses.
			if strings.Trim(text, "0123456789.+-eE") != "" {
				return nil, errSerialized
			}
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, errSerialized
		}
		p.i++
		return f, nil
	case 's':
		n, err := p.int(':')
		if err != nil || n < 0 || n > int64(len(p.s)-p.i) {
			return nil, errSerialized
		}
		if err := p.expect('"'); err != nil {
			return nil, err
		}
		if p.i+int(n) > len(p.s) {
			return nil, errSerialized
		}
		str := p.s[p.i : p.i+int(n)]
		p.i += int(n)
		if err := p.expect('"'); err != nil {
			return nil, err
		}
		return str, p.expect(';')
	case 'a':
		n, err := p.int(':')
		if err != nil || n < 0 || n > maxArrayLen {
			return nil, errSerialized
		}
		if err := p.expect('{'); err != nil {
			return nil, err
		}
		a := &phpArray{keys: make([]phpValue, 0, n), vals: make([]phpValue, 0, n)}
		for j := int64(0); j < n; j++ {
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case int64, string:
			default:
				return nil, errSerialized
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a.keys = append(a.keys, k)
			a.vals = append(a.vals, v)
		}
		return a, p.expect('}')
	}
	return nil, errSerialized
}

// phpTruthy is PHP's (bool) cast.
func phpTruthy(v phpValue) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != "" && x != "0"
	case *phpArray:
		return len(x.keys) > 0
	}
	return false
}

// phpString is PHP's (string) cast of a scalar; ok is false for arrays.
func phpString(v phpValue) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case bool:
		if x {
			return "1", true
		}
		return "", true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'G', 14, 64), true
	case string:
		return x, true
	}
	return "", false
}

// capabilityKeys returns the keys of a {prefix}capabilities array and
// whether each one is granted (PHP truthiness of its value: b:1 and
// s:1:"1" grant; b:0, s:0:"" and "0" do not).
func capabilityKeys(serialized string) ([]string, []bool, error) {
	v, err := phpUnserialize(serialized)
	if err != nil {
		return nil, nil, err
	}
	a, ok := v.(*phpArray)
	if !ok {
		return nil, nil, errSerialized
	}
	keys := make([]string, 0, len(a.keys))
	granted := make([]bool, 0, len(a.keys))
	for i, k := range a.keys {
		ks, _ := phpString(k)
		keys = append(keys, ks)
		granted = append(granted, phpTruthy(a.vals[i]))
	}
	return keys, granted, nil
}

// AppPassword is one WordPress application password (its hash and
// identifying fields; never the password).
type AppPassword struct {
	UUID string
	Name string
	// Hash is phpass ($P$, WordPress 5.6–6.7) or $generic$ (6.8+).
	Hash string
}

// parseAppPasswords reads the _application_passwords user meta: a list of
// arrays with uuid, app_id, name, password (the hash), created,
// last_used, last_ip. Entries without a string password are skipped, as
// WordPress would fail to match them.
func parseAppPasswords(serialized string) ([]AppPassword, error) {
	v, err := phpUnserialize(serialized)
	if err != nil {
		return nil, err
	}
	a, ok := v.(*phpArray)
	if !ok {
		return nil, errSerialized
	}
	var out []AppPassword
	for _, item := range a.vals {
		ia, ok := item.(*phpArray)
		if !ok {
			continue
		}
		pv, _ := ia.get("password")
		hash, ok := pv.(string)
		if !ok || hash == "" {
			continue
		}
		uv, _ := ia.get("uuid")
		nv, _ := ia.get("name")
		uuid, _ := phpString(uv)
		name, _ := phpString(nv)
		out = append(out, AppPassword{UUID: uuid, Name: name, Hash: hash})
	}
	return out, nil
}
