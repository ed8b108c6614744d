package dbtest

import (
	"bytes"
	"crypto/rand"
	"os"
	"sync"
	"testing"
)

// Buffer collects output written from many goroutines (a logger's) while
// a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Corrupt overwrites three pages in the middle of a closed SQLite file
// with random bytes, as a failing disk would.
func Corrupt(t testing.TB, file string) {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := make([]byte, 3*4096)
	_, _ = rand.Read(junk)
	if _, err := f.WriteAt(junk, st.Size()/4096/2*4096); err != nil {
		t.Fatal(err)
	}
}
