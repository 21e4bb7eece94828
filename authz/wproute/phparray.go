/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"strconv"
	"strings"
)

// PHP values as WordPress sees request parameters: a string (every query
// or form value, and JSON strings), nil (JSON null), a bool, a jsonNumber,
// or a *phpArray (a JSON object or list, or "name[...]" pieces).

// jsonNumber is a JSON number, kept as written: wproute only needs to know
// that a value is a number.
type jsonNumber string

// phpKey is a PHP array key: PHP turns a string holding a canonical decimal
// integer ("7", "-3", not "07" or "+7") into that integer.
type phpKey struct {
	str   string
	num   int64
	isNum bool
}

func phpKeyOf(s string) phpKey {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return phpKey{str: s} // the common case, without strconv's error
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
		return phpKey{num: n, isNum: true}
	}
	return phpKey{str: s}
}

// phpArray is an ordered PHP array. Assigning to an existing key keeps its
// position; appending ("name[]") uses one more than the largest integer key.
type phpArray struct {
	keys []phpKey
	vals map[phpKey]any
	next int64
}

func newPHPArray() *phpArray { return &phpArray{vals: map[phpKey]any{}} }

// get returns the value at k, and whether k is set at all (a nil value is
// set: array_key_exists, not isset).
func (a *phpArray) get(k phpKey) (any, bool) {
	v, ok := a.vals[k]
	return v, ok
}

// lookup is get for a string key.
func (a *phpArray) lookup(s string) (any, bool) { return a.get(phpKeyOf(s)) }

func (a *phpArray) set(k phpKey, v any) {
	if _, ok := a.vals[k]; !ok {
		a.keys = append(a.keys, k)
		if k.isNum && k.num >= a.next {
			a.next = k.num + 1
		}
	}
	a.vals[k] = v
}

func (a *phpArray) push(v any) { a.set(phpKey{num: a.next, isNum: true}, v) }

// isList is wp_is_numeric_array(): every key is an integer.
func (a *phpArray) isList() bool {
	for _, k := range a.keys {
		if !k.isNum {
			return false
		}
	}
	return true
}

// values returns the values in order (PHP's array_values).
func (a *phpArray) values() []any {
	out := make([]any, len(a.keys))
	for i, k := range a.keys {
		out[i] = a.vals[k]
	}
	return out
}

// maxVarNesting bounds the "[...]" levels of a query or form variable
// wproute reads. PHP deletes a variable nested deeper than
// max_input_nesting_level (64 by default, configurable); below this bound
// the setting cannot matter unless a site lowers it that far.
const maxVarNesting = 16

// maxArrayIndex bounds integer keys of query and form arrays: negative
// keys change what "name[]" appends to between PHP 8.2 and 8.3, and keys
// beyond 32 bits are strings on 32-bit builds.
const maxArrayIndex = 1<<31 - 1

// phpArrayVar returns the value PHP holds in $_GET[name] (post=false) or
// $_POST[name] (post=true) for query or urlencoded body s, nil when it is
// not set, following php_register_variable_ex. It refuses, with
// errVarUncertain, a variable whose value depends on PHP's version or
// configuration.
func phpArrayVar(s string, semicolon, post bool, name string) (any, error) {
	top := newPHPArray()
	for key, val := range phpPieces(s, semicolon, post) {
		base, index, ok := phpVarName(mustDecode(key))
		if !ok || base != name {
			continue
		}
		if err := registerPHPVar(top, base, index, mustDecode(val)); err != nil {
			return nil, err
		}
	}
	v, _ := top.lookup(name)
	return v, nil
}

// registerPHPVar stores val at base+index in top as php_register_variable_ex
// does: each "[key]" descends into an array (replacing a scalar found
// there), "[]" appends, a "[" without "]" ends the name, and anything after
// a "]" that is not "[" is ignored.
func registerPHPVar(top *phpArray, base, index string, val string) error {
	cur, key, appendKey := top, phpKeyOf(base), false
	for level := 1; index != ""; level++ {
		if level > maxVarNesting {
			return errVarUncertain
		}
		index = index[1:] // the "["
		end := strings.IndexByte(index, ']')
		if end < 0 {
			break // not an index: the value goes to the current key
		}
		nextKey, nextAppend := phpKeyOf(index[:end]), end == 0
		index = index[end+1:]
		if !nextAppend && nextKey.isNum && (nextKey.num < 0 || nextKey.num > maxArrayIndex) {
			return errVarUncertain
		}

		var child *phpArray
		if appendKey {
			if cur.next > maxArrayIndex {
				return errVarUncertain
			}
			child = newPHPArray()
			cur.push(child)
		} else if v, ok := cur.get(key); ok {
			if a, isArray := v.(*phpArray); isArray {
				child = a
			}
		}
		if child == nil && !appendKey {
			child = newPHPArray()
			cur.set(key, child)
		}
		cur, key, appendKey = child, nextKey, nextAppend
		if !strings.HasPrefix(index, "[") {
			index = ""
		}
	}
	if appendKey {
		if cur.next > maxArrayIndex {
			return errVarUncertain
		}
		cur.push(val)
		return nil
	}
	cur.set(key, val)
	return nil
}
