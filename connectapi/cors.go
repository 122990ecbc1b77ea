package connectapi

import (
	"net/http"
	"strings"
)

// CORS values for browser clients (chatjs, the JS SDK): the headers those
// clients send, and the response headers they must be able to read.
const (
	corsAllowHeaders  = "content-type, x-amz-bearer, authorization, x-amz-date, x-amz-user-agent, amz-sdk-invocation-id, amz-sdk-request, x-amz-security-token, x-amz-content-sha256"
	corsExposeHeaders = "x-amzn-errortype, x-amzn-requestid, date"
	corsAllowMethods  = "GET, POST, PUT, OPTIONS"
)

// Header values every response shares (net/http only reads them), so
// that setting them allocates nothing.
var (
	anyOrigin     = []string{"*"}
	exposeHeaders = []string{corsExposeHeaders}
)

// setCORS adds CORS headers to every response. With no AllowedOrigins any
// origin may call (tokens, not cookies, authorise); otherwise only listed
// origins are echoed back.
func (s *server) setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	if s.allowedOrigins == nil {
		h["Access-Control-Allow-Origin"] = anyOrigin
	} else {
		h.Add("Vary", "Origin")
		if !s.originAllowed(origin) || origin == "" {
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h["Access-Control-Expose-Headers"] = exposeHeaders
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "86400")
	}
}

// originAllowed reports whether a browser page of origin may use the API;
// requests without an Origin (not from a browser) always may.
func (s *server) originAllowed(origin string) bool {
	return origin == "" || s.allowedOrigins == nil || s.allowedOrigins[strings.ToLower(origin)]
}
