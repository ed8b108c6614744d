package config

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sealPrefix marks an encrypted value: enc:v1:<key id>:<base64(nonce|ciphertext)>.
const sealPrefix = "enc:v1:"

// Sealer encrypts sensitive values at rest with AES-256-GCM. It can open
// values sealed by any of its keys and seals with the current one, which is
// what lets rotation re-encrypt row by row.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// KeyID names a key without revealing it: the first 8 bytes of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// NewSealer builds a sealer that seals with current and can also open
// values sealed with any of old.
func NewSealer(current []byte, old ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, old...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("encryption key must be 32 bytes, got %d", len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("encryption key: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key: %w", err)
		}
		id := KeyID(k)
		s.aeads[id] = aead
		if i == 0 {
			s.current = id
		}
	}
	return s, nil
}

// CurrentKeyID is the id of the key new values are sealed with.
func (s *Sealer) CurrentKeyID() string { return s.current }

// Knows reports whether id names one of the sealer's keys. A sealed value
// whose key is known but that does not open has been damaged or tampered
// with; one whose key is unknown was sealed under a key this process was
// not given.
func (s *Sealer) Knows(id string) bool {
	_, ok := s.aeads[id]
	return ok
}

// Seal encrypts plaintext for key name (bound as additional data, so a
// ciphertext cannot be moved to another key's row).
func (s *Sealer) Seal(name, plaintext string) (string, error) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal %s: %w", name, err)
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(name))
	return sealPrefix + s.current + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// IsSealed reports whether stored looks like a sealed value.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, sealPrefix) }

// SealedKeyID returns the key id a stored value was sealed with.
func SealedKeyID(stored string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(stored, sealPrefix), ":")
	return id
}

// Open decrypts a value sealed by Seal. A value that is not sealed is
// returned as is (rows written before encryption, or by hand).
func (s *Sealer) Open(name, stored string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	id, b64, ok := strings.Cut(strings.TrimPrefix(stored, sealPrefix), ":")
	if !ok {
		return "", fmt.Errorf("open %s: malformed sealed value", name)
	}
	aead, ok := s.aeads[id]
	if !ok {
		return "", fmt.Errorf("open %s: sealed with key %s, which is not configured (set CONFIG_ENCRYPTION_KEY or CONFIG_ENCRYPTION_OLD_KEYS)", name, id)
	}
	ct, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(ct) < aead.NonceSize() {
		return "", fmt.Errorf("open %s: malformed sealed value", name)
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(name))
	if err != nil {
		return "", fmt.Errorf("open %s: the value does not decrypt with key %s", name, id)
	}
	return string(pt), nil
}

// DecodeKey reads a base64 (standard or URL, padded or not) 32-byte key.
func DecodeKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(text); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("the key decodes to %d bytes; it must be 32 (generate one with: openssl rand -base64 32)", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("the key is not base64 (generate one with: openssl rand -base64 32)")
}

// NewKey returns a fresh random 32-byte key.
func NewKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate encryption key: %w", err)
	}
	return k, nil
}

// EncodeKey is the text form DecodeKey reads.
func EncodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// LoadOrCreateKeyFile reads a key file, creating it with mode 0600 when it
// does not exist. created tells the caller to warn that the key lives next
// to the data.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := DecodeKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read key file: %w", err)
	}
	k, err := NewKey()
	if err != nil {
		return nil, false, err
	}
	if err := WriteKeyFile(path, k); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// WriteKeyFile writes k atomically with mode 0600.
func WriteKeyFile(path string, k []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("key file directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := tmp.WriteString(EncodeKey(k) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}
