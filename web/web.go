// Package web serves the browser side of Helpline from files built into
// dist/ (see build.mjs) and embedded in the binary: the landing page at /,
// the customer widget (/widget.js, the snippet a site pastes, and /widget/,
// the chat window it opens in an iframe), the Watson Assistant web chat
// service desk (/servicedesk.js, loaded by a company's page that runs web
// chat) and the agent console at /console/. It talks to the engine only through the HTTP APIs the pages
// call; nothing here reads the store.
//
// Every response carries a strict Content-Security-Policy (scripts, styles
// and connections from Helpline's own origin only) and the usual security
// headers. Files are served with a strong ETag and, when the client
// accepts it, gzip-compressed.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// policy is the Content-Security-Policy of every page: everything from
// Helpline's own origin, nothing inline, no plugins, and not framed
// unless the page says otherwise (frameAncestors).
const policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors "

// file is one built file, ready to serve.
type file struct {
	body, gzipped []byte
	contentType   string
	etag          string
}

// Handler serves the built files. Options tune what depends on the
// node's configuration.
type Handler struct {
	files map[string]*file
	opts  Options
}

// Options are what the pages depend on outside the built files.
type Options struct {
	// FrameAncestors returns the origins allowed to frame the widget's
	// chat window for the request (an instance's allowed origins), in
	// CSP source syntax. Nil or an empty answer allows only Helpline's
	// own origin.
	FrameAncestors func(r *http.Request) []string
}

// New reads the embedded files once; it fails only when the binary was
// built without them.
func New(opts Options) (*Handler, error) {
	h := &Handler{files: make(map[string]*file), opts: opts}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		f := &file{body: body, contentType: mime.TypeByExtension(path.Ext(p))}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		f.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		if compressible(f.contentType) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if buf.Len() < len(body) {
				f.gzipped = buf.Bytes()
			}
		}
		h.files[strings.TrimPrefix(p, "dist")] = f
		return nil
	})
	return h, err
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.Contains(contentType, "javascript") ||
		strings.Contains(contentType, "json") || strings.Contains(contentType, "svg")
}

// Routes registers the pages on mux: /, /widget.js, /widget/ and
// /console/ with what they load.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", h)
	mux.Handle("GET /widget.js", h)
	mux.Handle("GET /widget/", h)
	mux.Handle("GET /console/", h)
	for name := range h.files {
		if strings.Count(name, "/") == 1 && name != "/index.html" && name != "/widget.js" {
			mux.Handle("GET "+name, h)
		}
	}
}

// ServeHTTP serves the file the path names; a directory serves its
// index.html.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path
	if strings.HasSuffix(name, "/") {
		name += "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", policy+h.frameAncestors(r, name))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if name == "/widget.js" || name == "/servicedesk.js" {
		// Loaded by script tags on the sites that embed the widget or
		// web chat.
		hdr.Set("Cross-Origin-Resource-Policy", "cross-origin")
	} else {
		hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	}
	if !strings.HasPrefix(name, "/widget/") {
		hdr.Set("X-Frame-Options", "DENY")
	}
	// Names are not fingerprinted: clients revalidate by ETag every time.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	hdr.Set("Content-Type", f.contentType)
	hdr.Add("Vary", "Accept-Encoding")
	body := f.body
	if f.gzipped != nil && acceptsGzip(r) {
		hdr.Set("Content-Encoding", "gzip")
		body = f.gzipped
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// frameAncestors is the frame-ancestors directive of name: the widget's
// chat window may be framed by the instance's allowed origins, the rest
// by nobody.
func (h *Handler) frameAncestors(r *http.Request, name string) string {
	if !strings.HasPrefix(name, "/widget/") {
		return "'none'"
	}
	var origins []string
	if h.opts.FrameAncestors != nil {
		origins = h.opts.FrameAncestors(r)
	}
	return strings.Join(append([]string{"'self'"}, origins...), " ")
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(params) != "q=0" {
			return true
		}
	}
	return false
}
