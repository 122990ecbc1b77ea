package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "elsewhere", http.StatusTeapot)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// The transport would ask for gzip and undo it on its own.
	req.Header.Set("Accept-Encoding", header.Get("Accept-Encoding"))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestPagesServedWithSecurityHeaders(t *testing.T) {
	srv := newServer(t, Options{})
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/", "text/html", `src="/widget.js"`},
		{"/widget.js", "text/javascript", "/widget/"},
		{"/widget/", "text/html", "/widget/frame.js"},
		{"/console/", "text/html", "/console/app.js"},
		{"/console/app.js", "text/javascript", ""},
		{"/servicedesk.js", "text/javascript", "HelplineServiceDesk"},
		{"/landing.css", "text/css", ""},
	} {
		resp, body := get(t, srv.URL+tc.path, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", tc.path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("%s: Content-Type %q, want %s", tc.path, ct, tc.contentType)
		}
		if !bytes.Contains(body, []byte(tc.contains)) {
			t.Errorf("%s: body lacks %q", tc.path, tc.contains)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors "} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", tc.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
	}
}

func TestFramingAllowedOnlyForTheWidgetWindow(t *testing.T) {
	srv := newServer(t, Options{FrameAncestors: func(r *http.Request) []string {
		if r.URL.Query().Get("instance") == "shop" {
			return []string{"https://shop.example"}
		}
		return nil
	}})
	for _, tc := range []struct{ path, ancestors, xfo string }{
		{"/", "frame-ancestors 'none'", "DENY"},
		{"/console/", "frame-ancestors 'none'", "DENY"},
		{"/widget/", "frame-ancestors 'self'", ""},
		{"/widget/?instance=shop", "frame-ancestors 'self' https://shop.example", ""},
	} {
		resp, _ := get(t, srv.URL+tc.path, nil)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, tc.ancestors) {
			t.Errorf("%s: CSP %q, want it to end with %q", tc.path, csp, tc.ancestors)
		}
		if got := resp.Header.Get("X-Frame-Options"); got != tc.xfo {
			t.Errorf("%s: X-Frame-Options %q, want %q", tc.path, got, tc.xfo)
		}
	}
	for _, path := range []string{"/widget.js", "/servicedesk.js"} {
		resp, _ := get(t, srv.URL+path, nil)
		if got := resp.Header.Get("Cross-Origin-Resource-Policy"); got != "cross-origin" {
			t.Errorf("%s: Cross-Origin-Resource-Policy %q; other sites could not load it", path, got)
		}
	}
	resp, _ := get(t, srv.URL+"/console/app.js", nil)
	if got := resp.Header.Get("Cross-Origin-Resource-Policy"); got != "same-origin" {
		t.Errorf("/console/app.js: Cross-Origin-Resource-Policy %q", got)
	}
}

func TestGzipAndRevalidation(t *testing.T) {
	srv := newServer(t, Options{})
	plainResp, plain := get(t, srv.URL+"/console/app.js", nil)
	if plainResp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip sent to a client that did not ask for it")
	}
	resp, zipped := get(t, srv.URL+"/console/app.js", http.Header{"Accept-Encoding": {"br, gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain) {
		t.Fatalf("gzip body does not unpack to the file (err %v)", err)
	}
	etag := plainResp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, body := get(t, srv.URL+"/console/app.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("revalidation: status %d with %d bytes, want 304 and none", resp.StatusCode, len(body))
	}
}

func TestUnknownPathsFallThrough(t *testing.T) {
	srv := newServer(t, Options{})
	for _, p := range []string{"/nope", "/console/nope.js", "/widget/../go.mod", "/web.go"} {
		resp, _ := get(t, srv.URL+p, nil)
		if resp.StatusCode == 200 {
			t.Errorf("%s: 200, want not found", p)
		}
	}
	// Paths outside the pages belong to the rest of the server.
	resp, _ := get(t, srv.URL+"/nope", nil)
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("/nope: status %d, want the rest of the server's answer", resp.StatusCode)
	}
}
