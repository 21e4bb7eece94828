/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"errors"
	"strings"
	"testing"
)

// arrayAt returns v[keys[0]][keys[1]]... for nested phpArrays.
func arrayAt(v any, keys ...phpKey) (any, bool) {
	for _, k := range keys {
		a, ok := v.(*phpArray)
		if !ok {
			return nil, false
		}
		if v, ok = a.get(k); !ok {
			return nil, false
		}
	}
	return v, true
}

func num(n int64) phpKey { return phpKey{num: n, isNum: true} }

// TestPHPArrayVarIndexBounds checks both sides of the 32-bit bound on
// integer keys, for a key written out and for "[]" appending to it, as the
// last level and as an intermediate one.
func TestPHPArrayVarIndexBounds(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		key         []phpKey // where the value "b" must be; nil: refused
	}{
		{"key at the bound", "requests[2147483647]=b", []phpKey{num(maxArrayIndex)}},
		{"key past the bound", "requests[2147483648]=b", nil},
		{"negative key", "requests[-1]=b", nil},
		{"append up to the bound", "requests[2147483646]=a&requests[]=b", []phpKey{num(maxArrayIndex)}},
		{"append past the bound", "requests[2147483647]=a&requests[]=b", nil},
		{"append an array up to the bound", "requests[2147483646]=a&requests[][x]=b", []phpKey{num(maxArrayIndex), phpKeyOf("x")}},
		{"append an array past the bound", "requests[2147483647]=a&requests[][x]=b", nil},
		{"append to an empty array", "requests[]=b", []phpKey{num(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := phpArrayVar(tc.query, false, false, "requests")
			if tc.key == nil {
				if !errors.Is(err, errVarUncertain) {
					t.Fatalf("got %v, %v; want errVarUncertain", v, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := arrayAt(v, tc.key...); !ok || got != "b" {
				t.Fatalf("requests%v = %v (set %v), want \"b\"", tc.key, got, ok)
			}
		})
	}
}

// Variables other than the one asked for are never registered, so not even
// one PHP would refuse (too deep) can change the answer.
func TestPHPArrayVarIgnoresOtherVariables(t *testing.T) {
	q := "other" + strings.Repeat("[a]", maxVarNesting+4) + "=1&requests[0]=b"
	v, err := phpArrayVar(q, false, false, "requests")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := arrayAt(v, num(0)); !ok || got != "b" {
		t.Fatalf("requests[0] = %v (set %v), want \"b\"", got, ok)
	}
}

// A "[" without its "]" ends the name however long the rest is: the value
// goes to the key before it (PHP answers requests[a] for "requests[a][b=1").
func TestPHPArrayVarUnclosedBracketEndsTheName(t *testing.T) {
	q := "requests[a][" + strings.Repeat("b", 2*maxVarNesting) + "=1"
	v, err := phpArrayVar(q, false, false, "requests")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := arrayAt(v, phpKeyOf("a")); !ok || got != "1" {
		t.Fatalf("requests[a] = %v (set %v), want \"1\"", got, ok)
	}
}
