package jwtauth

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// JWKS returns the public keys of the verifier as a JSON Web Key Set
// (RFC 7517), each with its kid, alg and use "sig", ordered by kid. An
// HS256 verifier's set is empty: a shared secret is never published.
func (v *Verifier) JWKS() ([]byte, error) {
	ids := make([]string, 0, len(v.keys))
	for id := range v.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	keys := make([]json.RawMessage, 0, len(ids))
	if v.algName != HS256 {
		for _, id := range ids {
			k, err := jwk.FromRaw(v.keys[id].verify)
			if err != nil {
				return nil, fmt.Errorf("jwtauth: key %q: %w", id, err)
			}
			for name, val := range map[string]any{jwk.KeyIDKey: id, jwk.AlgorithmKey: v.alg, jwk.KeyUsageKey: "sig"} {
				if err := k.Set(name, val); err != nil {
					return nil, fmt.Errorf("jwtauth: key %q: %w", id, err)
				}
			}
			b, err := json.Marshal(k)
			if err != nil {
				return nil, fmt.Errorf("jwtauth: key %q: %w", id, err)
			}
			keys = append(keys, b)
		}
	}
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
}
