// Package ids generates resource identifiers in the two forms OpenStack uses.
package ids

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/google/uuid"
)

// UUID returns a random dashed UUID (Nova, Neutron, Glance, Cinder IDs).
func UUID() string { return uuid.NewString() }

// Hex returns 32 random hex characters (Keystone IDs).
func Hex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Token returns n random bytes, URL-safe base64-free hex encoded.
func Random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidUUID reports whether s parses as a UUID (dashed or not).
func ValidUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}
