// Package web embeds the built web interface (web/dist, committed) so that
// `rookery serve` needs no Node.js at run time.
package web

import (
	"bytes"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the single-page app: the hashed assets from dist (in the
// pre-compressed form the browser accepts, cached for a year), and
// index.html, never cached, for any other path so client-side routes
// (/settings, /admin/config) load.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return handler(root)
}

// encodings are the pre-compressed forms the build writes beside an
// asset, best first.
var encodings = []struct{ name, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

// handler reads every file of root once: the build is a few hundred KB,
// and a request is then a map lookup with no copy.
func handler(root fs.FS) http.Handler {
	files := map[string][]byte{}
	_ = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, rerr := fs.ReadFile(root, p); rerr == nil {
				files[p] = b
			}
		}
		return nil
	})
	index := files["index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if !strings.HasPrefix(p, "assets/") {
			if b, ok := files[p]; ok && p != "index.html" {
				serve(w, r, p, b)
				return
			}
			w.Header().Set("Cache-Control", "no-cache")
			serve(w, r, "index.html", index)
			return
		}
		body, ok := files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		// Vite puts a content hash in asset names: a name never changes
		// content, so browsers keep it and never ask again.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		varies := false
		accept := r.Header.Get("Accept-Encoding")
		for _, e := range encodings {
			packed, ok := files[p+e.suffix]
			if !ok {
				continue
			}
			varies = true
			if accepts(accept, e.name) {
				h.Set("Vary", "Accept-Encoding")
				h.Set("Content-Encoding", e.name)
				serve(w, r, p, packed)
				return
			}
		}
		if varies {
			h.Set("Vary", "Accept-Encoding")
		}
		serve(w, r, p, body)
	})
}

// serve sends body as the file name (its type from the extension).
func serve(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// accepts reads Accept-Encoding for coding with a q-value above zero.
func accepts(header, coding string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(params), "=")
		if !ok || strings.TrimSpace(k) != "q" {
			return true
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err != nil || q > 0
	}
	return false
}
