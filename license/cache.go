package license

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// DefaultCacheFileName is the suggested name of the cache file inside a data
// directory.
const DefaultCacheFileName = "license-cache.json"

// DefaultMaxCacheAge is how long a cached validation may stand in for an
// unreachable licence server.
const DefaultMaxCacheAge = 7 * 24 * time.Hour

const cacheVersion = 1

// cacheRecord is the last successful validation. It holds a SHA-256 of the
// key instead of the key, which is enough to tell whether the record belongs
// to the key in use.
type cacheRecord struct {
	Version     int         `json:"version"`
	KeySHA256   string      `json:"key_sha256"`
	Product     string      `json:"product"`
	ValidatedAt time.Time   `json:"validated_at"`
	Validation  *Validation `json:"validation"`
}

func keyDigest(key Key) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// belongsTo reports whether the record was made for this key and product.
func (r *cacheRecord) belongsTo(key Key, product string) bool {
	return r != nil && r.Version == cacheVersion && r.Validation != nil &&
		r.Product == product &&
		subtle.ConstantTimeCompare([]byte(r.KeySHA256), []byte(keyDigest(key))) == 1
}

// usable reports whether the record may stand in for the server at now: not
// older than maxAge and never past the licence's own expiry.
func (r *cacheRecord) usable(now time.Time, maxAge time.Duration) bool {
	if r == nil || r.Validation == nil {
		return false
	}
	if now.Sub(r.ValidatedAt) > maxAge {
		return false
	}
	exp := r.Validation.ExpiresAt
	return exp.IsZero() || now.Before(exp)
}

// readCache loads the cache file. A missing file is not an error.
func readCache(path string) (*cacheRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read licence cache: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read licence cache: %w", err)
	}
	var rec cacheRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("read licence cache %s: not a licence cache file: %w", filepath.Base(path), err)
	}
	return &rec, nil
}

// writeCache replaces the cache file atomically: a crash leaves either the
// old file or the new one, never half of one. The file is private (0600).
func writeCache(path string, rec *cacheRecord) (err error) {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".license-cache-*.tmp")
	if err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write licence cache: %w", err)
	}
	// Make the rename itself durable; not every platform can sync a
	// directory, and the file is already complete, so failure is ignored.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
