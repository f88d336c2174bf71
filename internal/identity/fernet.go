package identity

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Fernet tokens (https://github.com/fernet/spec): version 0x80, a 64-bit
// timestamp, a 128-bit IV, AES-128-CBC ciphertext with PKCS#7 padding, and
// an HMAC-SHA256 over all of it. A key is 32 bytes: signing half, then
// encryption half. Keystone strips the base64 padding; so do we.

const fernetVersion = 0x80

var errBadToken = errors.New("invalid fernet token")

func newFernetKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.URLEncoding.EncodeToString(b)
}

func decodeKey(s string) ([]byte, error) {
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("bad fernet key")
	}
	return b, nil
}

func fernetEncrypt(key []byte, msg []byte, now time.Time) (string, error) {
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return "", err
	}
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(msg)%aes.BlockSize
	plain := append(append([]byte{}, msg...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	buf := make([]byte, 0, 1+8+16+len(ct)+32)
	buf = append(buf, fernetVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(now.Unix()))
	buf = append(buf, iv...)
	buf = append(buf, ct...)
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(buf)
	buf = mac.Sum(buf)
	return strings.TrimRight(base64.URLEncoding.EncodeToString(buf), "="), nil
}

func fernetDecrypt(key []byte, tok string) ([]byte, error) {
	if m := len(tok) % 4; m != 0 {
		tok += strings.Repeat("=", 4-m)
	}
	b, err := base64.URLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+8+16+16+32 || b[0] != fernetVersion {
		return nil, errBadToken
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, errBadToken
	}
	iv, ct := body[9:25], body[25:]
	if len(ct)%aes.BlockSize != 0 {
		return nil, errBadToken
	}
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(plain) {
		return nil, errBadToken
	}
	for _, c := range plain[len(plain)-pad:] {
		if int(c) != pad {
			return nil, errBadToken
		}
	}
	return plain[:len(plain)-pad], nil
}

// keyRing caches the Fernet keys from the store. Keys live in the store so
// every server of a multi-server install shares them without copying files.
type keyRing struct {
	store   Store
	maxKeys int
	mu      sync.RWMutex
	keys    []FernetKey // sorted by index
	raw     map[int][]byte
	loaded  time.Time
	// onChange is called when a load finds a different key set, so cached
	// validations (which skip decryption) are redone: a token whose key
	// was rotated out must stop validating at once.
	onChange func()
}

// keyRefresh bounds how long a rotation made elsewhere (`gureum admin
// rotate-keys`, another server) takes to reach this server: a key rotated
// out stops validating within it. Reloading is one small read a second.
const keyRefresh = time.Second

func (k *keyRing) load(ctx context.Context) error {
	keys, err := k.store.FernetKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		now := time.Now().UTC()
		init := []FernetKey{{Index: 0, Key: newFernetKey(), CreatedAt: now}, {Index: 1, Key: newFernetKey(), CreatedAt: now}}
		if err := k.store.ReplaceFernetKeys(ctx, nil, init); err != nil {
			// Another server initialised them first: read theirs.
			if keys, err = k.store.FernetKeys(ctx); err != nil {
				return err
			}
		} else {
			keys = init
		}
	}
	raw := map[int][]byte{}
	for _, key := range keys {
		b, err := decodeKey(key.Key)
		if err != nil {
			return fmt.Errorf("fernet key %d: %w", key.Index, err)
		}
		raw[key.Index] = b
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Index < keys[j].Index })
	k.mu.Lock()
	changed := k.keys != nil && !sameKeys(k.keys, keys)
	k.keys, k.raw, k.loaded = keys, raw, time.Now()
	k.mu.Unlock()
	if changed && k.onChange != nil {
		k.onChange()
	}
	return nil
}

func (k *keyRing) ensure(ctx context.Context) error {
	k.mu.RLock()
	fresh := k.keys != nil && time.Since(k.loaded) < keyRefresh
	k.mu.RUnlock()
	if fresh {
		return nil
	}
	return k.load(ctx)
}

// encrypt uses the primary key (the highest index).
func (k *keyRing) encrypt(ctx context.Context, msg []byte, now time.Time) (string, error) {
	if err := k.ensure(ctx); err != nil {
		return "", err
	}
	k.mu.RLock()
	primary := k.raw[k.keys[len(k.keys)-1].Index]
	k.mu.RUnlock()
	return fernetEncrypt(primary, msg, now)
}

// decrypt tries every key, primary first; on failure it reloads once in
// case another server rotated.
func (k *keyRing) decrypt(ctx context.Context, tok string) ([]byte, error) {
	if err := k.ensure(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		k.mu.RLock()
		keys := k.keys
		raw := k.raw
		loaded := k.loaded
		k.mu.RUnlock()
		for i := len(keys) - 1; i >= 0; i-- {
			if msg, err := fernetDecrypt(raw[keys[i].Index], tok); err == nil {
				return msg, nil
			}
		}
		if attempt == 0 && time.Since(loaded) > time.Second {
			if err := k.load(ctx); err != nil {
				return nil, err
			}
			continue
		}
		break
	}
	return nil, errBadToken
}

// Rotate promotes the staged key to primary, stages a new key and drops the
// oldest secondaries beyond maxKeys, as keystone-manage fernet_rotate does.
func (k *keyRing) rotate(ctx context.Context) ([]FernetKey, error) {
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	k.mu.RLock()
	cur := append([]FernetKey(nil), k.keys...)
	k.mu.RUnlock()
	now := time.Now().UTC()
	maxIdx := 0
	var staged FernetKey
	var rest []FernetKey
	for _, key := range cur {
		if key.Index == 0 {
			staged = key
		} else {
			rest = append(rest, key)
		}
		maxIdx = max(maxIdx, key.Index)
	}
	if staged.Key == "" {
		staged = FernetKey{Key: newFernetKey(), CreatedAt: now}
	}
	next := []FernetKey{{Index: 0, Key: newFernetKey(), CreatedAt: now}}
	promoted := FernetKey{Index: maxIdx + 1, Key: staged.Key, CreatedAt: now}
	rest = append(rest, promoted)
	sort.Slice(rest, func(i, j int) bool { return rest[i].Index < rest[j].Index })
	for len(rest)+1 > k.maxKeys {
		rest = rest[1:]
	}
	next = append(next, rest...)
	if err := k.store.ReplaceFernetKeys(ctx, cur, next); err != nil {
		return nil, err
	}
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	return next, nil
}

func sameKeys(a, b []FernetKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Index != b[i].Index || a[i].Key != b[i].Key {
			return false
		}
	}
	return true
}
