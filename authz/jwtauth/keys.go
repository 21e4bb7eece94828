package jwtauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

const (
	// minHMACKeySize follows RFC 7518 §3.2: an HS256 key must be at least
	// as long as the hash output. Shorter secrets are brute-forceable from
	// a single token.
	minHMACKeySize = 32
	// minRSABits is the NIST floor for RSA signatures; maxRSABits bounds
	// the verification cost an (accidentally) huge key imposes per token.
	minRSABits = 2048
	maxRSABits = 8192
)

// parsedKey is a Key ready for use: verify is the public half (or the HMAC
// secret) in the raw form jwx accepts without conversion, sign is the
// private half (nil for a public key), sigLen the exact signature size the
// algorithm produces with this key.
type parsedKey struct {
	id     string
	verify any // []byte | *rsa.PublicKey | *ecdsa.PublicKey | ed25519.PublicKey
	sign   any // []byte | *rsa.PrivateKey | *ecdsa.PrivateKey | ed25519.PrivateKey | nil
	sigLen int
}

// parseKey turns one Secret entry into a key for alg. Error messages name
// the key ID and the problem, never the material: these errors end up in
// resource status conditions and logs.
func parseKey(alg string, k Key) (*parsedKey, error) {
	pk := &parsedKey{id: k.ID}
	if alg == HS256 {
		if len(k.Material) < minHMACKeySize {
			return nil, fmt.Errorf("jwtauth: key %q: HS256 secret is %d bytes, need at least %d", k.ID, len(k.Material), minHMACKeySize)
		}
		// A PEM block as an HMAC secret is almost certainly a public key
		// pasted into the wrong place, which would let anyone who has the
		// public key forge tokens.
		if bytes.Contains(k.Material, []byte("-----BEGIN")) {
			return nil, fmt.Errorf("jwtauth: key %q: HS256 secret looks like a PEM key; HS256 needs a random shared secret", k.ID)
		}
		secret := bytes.Clone(k.Material)
		pk.verify, pk.sign, pk.sigLen = secret, secret, 32
		return pk, nil
	}

	priv, pub, err := decodePEMKey(k.Material)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: key %q: %w", k.ID, err)
	}
	switch alg {
	case RS256:
		var rpub *rsa.PublicKey
		switch p := pub.(type) {
		case *rsa.PublicKey:
			rpub = p
		default:
			return nil, fmt.Errorf("jwtauth: key %q: RS256 needs an RSA key, got %s", k.ID, keyKind(pub))
		}
		if bits := rpub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("jwtauth: key %q: RSA key is %d bits, need %d to %d", k.ID, bits, minRSABits, maxRSABits)
		}
		pk.verify, pk.sigLen = rpub, rpub.Size()
	case ES256:
		epub, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("jwtauth: key %q: ES256 needs an EC P-256 key, got %s", k.ID, keyKind(pub))
		}
		if epub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwtauth: key %q: ES256 needs curve P-256, got %s", k.ID, epub.Curve.Params().Name)
		}
		pk.verify, pk.sigLen = epub, 64
	case EdDSA:
		epub, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("jwtauth: key %q: EdDSA needs an Ed25519 key, got %s", k.ID, keyKind(pub))
		}
		pk.verify, pk.sigLen = epub, ed25519.SignatureSize
	}
	pk.sign = priv // nil for a public key
	return pk, nil
}

// decodePEMKey reads exactly one PEM block holding a private or public key
// and returns the private key (nil for a public key) and the public key.
func decodePEMKey(material []byte) (priv, pub any, err error) {
	block, rest := pem.Decode(material)
	if block == nil {
		return nil, nil, errors.New("material is not a PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		// Two keys under one ID would make "which key is this" ambiguous.
		return nil, nil, errors.New("material has data after the first PEM block")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return nil, nil, errors.New("encrypted PEM keys are not supported")
	}
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, nil, fmt.Errorf("unsupported PEM block type %q", block.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	if priv != nil {
		switch p := priv.(type) {
		case *rsa.PrivateKey:
			pub = &p.PublicKey
		case *ecdsa.PrivateKey:
			pub = &p.PublicKey
		case ed25519.PrivateKey:
			pub = p.Public().(ed25519.PublicKey)
		default:
			return nil, nil, fmt.Errorf("unsupported private key type %s", keyKind(priv))
		}
	}
	return priv, pub, nil
}

func keyKind(k any) string {
	switch k := k.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an EC " + k.Curve.Params().Name + " key"
	case *ecdsa.PrivateKey:
		return "an EC " + k.Curve.Params().Name + " key"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "an Ed25519 key"
	default:
		return fmt.Sprintf("a %T", k)
	}
}
