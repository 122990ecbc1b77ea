package connectapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/helplinehq/helpline"
)

// amzDateFormat is the layout of X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// sigv4Auth is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request,
//	  SignedHeaders=<h1;h2;...>, Signature=<hex>
type sigv4Auth struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lower case, as sent (sorted by the signer)
	Signature     string   // lower-case hex, 64 characters
}

func incompleteSignature(msg string) error {
	return &apiError{status: http.StatusForbidden, name: "IncompleteSignature", message: msg}
}

func invalidSignature(msg string) error {
	return &apiError{status: http.StatusForbidden, name: "InvalidSignatureException", message: msg}
}

func unrecognizedClient() error {
	return &apiError{status: http.StatusForbidden, name: "UnrecognizedClientException",
		message: "The security token included in the request is invalid."}
}

// parseAuthorization parses a SigV4 Authorization header. Anything that is
// not a complete AWS4-HMAC-SHA256 header is IncompleteSignature.
func parseAuthorization(h string) (sigv4Auth, error) {
	var a sigv4Auth
	const algorithm = "AWS4-HMAC-SHA256 "
	if h == "" {
		return a, incompleteSignature("Missing Authentication Token.")
	}
	rest, ok := strings.CutPrefix(h, algorithm)
	if !ok {
		return a, incompleteSignature("Authorization must use the AWS4-HMAC-SHA256 algorithm.")
	}
	var credential, signed string
	var haveSignature bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, incompleteSignature("Authorization header is malformed.")
		}
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.Signature, haveSignature = v, true
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] == "" || len(scope[1]) != 8 || scope[2] == "" || scope[3] == "" || scope[4] != "aws4_request" {
		return a, incompleteSignature("Authorization header requires a Credential of the form <key>/<date>/<region>/<service>/aws4_request.")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if signed == "" {
		return a, incompleteSignature("Authorization header requires a SignedHeaders parameter.")
	}
	a.SignedHeaders = strings.Split(signed, ";")
	hasHost := false
	for _, name := range a.SignedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return a, incompleteSignature("SignedHeaders must be lower-case header names separated by ';'.")
		}
		hasHost = hasHost || name == "host"
	}
	if !hasHost {
		return a, incompleteSignature("SignedHeaders must include host.")
	}
	if _, err := hex.DecodeString(a.Signature); !haveSignature || err != nil || len(a.Signature) != 64 {
		return a, incompleteSignature("Authorization header requires a Signature of 64 hex digits.")
	}
	return a, nil
}

// signedRequest is a contact-API request whose Authorization header and
// date have been parsed but whose signature is not yet checked (that needs
// the instance, which may be named in the body).
type signedRequest struct {
	auth     sigv4Auth
	signedAt time.Time
}

// parseSigned checks everything about a request's signature that needs no
// key: header syntax, credential scope and the clock window.
func (s *server) parseSigned(r *http.Request) (*signedRequest, error) {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	date := r.Header.Get("X-Amz-Date")
	at, err := time.Parse(amzDateFormat, date)
	if err != nil {
		return nil, incompleteSignature("X-Amz-Date is missing or not of the form yyyyMMddTHHmmssZ.")
	}
	if a.Service != "connect" {
		return nil, invalidSignature("Credential should be scoped to correct service: 'connect'.")
	}
	if s.region != "" && a.Region != s.region {
		return nil, invalidSignature("Credential should be scoped to a valid region: '" + s.region + "'.")
	}
	if a.Date != date[:8] {
		return nil, invalidSignature("Date in Credential scope does not match X-Amz-Date.")
	}
	if skew := s.now().Sub(at); skew > s.maxSkew || skew < -s.maxSkew {
		return nil, &apiError{status: http.StatusBadRequest, name: "RequestExpired",
			message: "Request has expired: X-Amz-Date " + date + " is more than " + s.maxSkew.String() + " from the server's time."}
	}
	return &signedRequest{auth: a, signedAt: at}, nil
}

// verify checks the request's signature against the named instance's key.
// An unknown instance or key is UnrecognizedClientException, a wrong
// signature InvalidSignatureException.
func (s *server) verify(ctx context.Context, r *http.Request, body []byte, sr *signedRequest, instanceID string) error {
	in, err := s.svc.FindInstance(ctx, instanceID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		return unrecognizedClient()
	} else if err != nil {
		return err
	}
	key := in.FindAccessKey(sr.auth.AccessKeyID)
	if key == nil {
		return unrecognizedClient()
	}
	// Helpline issues no temporary credentials, so no session token is
	// ever valid.
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return unrecognizedClient()
	}

	// Rebuild the request with exactly the headers the client signed:
	// SignHTTP signs every header it is given.
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	req := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: make(http.Header)}
	for _, name := range sr.auth.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				req.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
	// A signer per verification: a Signer caches derived signing keys by
	// key id, date, region and service but not by secret, so a shared one
	// would let one instance's secret verify for another instance with
	// the same key id, and keep a rotated secret valid until midnight UTC.
	// Deriving the key costs four HMACs.
	signer := v4.NewSigner()
	if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "connect", sr.auth.Region, sr.signedAt); err != nil {
		return err
	}
	want, err := parseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	sameHeaders := strings.Join(want.SignedHeaders, ";") == strings.Join(sr.auth.SignedHeaders, ";")
	if !hmac.Equal([]byte(want.Signature), []byte(strings.ToLower(sr.auth.Signature))) || !sameHeaders {
		return invalidSignature("The request signature we calculated does not match the signature you provided.")
	}
	return nil
}
