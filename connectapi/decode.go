package connectapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/helplinehq/helpline"
)

// readBody reads a JSON operation's body, refusing more than maxJSONBody
// bytes with EINVALID. A body of declared length is read into one buffer
// of that size (the server's reader ends it there); another is read as it
// comes, up to one byte past the limit.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > maxJSONBody {
		return nil, helpline.Errorf(helpline.EINVALID, "The request body exceeds %d bytes.", maxJSONBody)
	} else if n >= 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, helpline.Errorf(helpline.EINVALID, "Could not read the request body.")
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, helpline.Errorf(helpline.EINVALID, "Could not read the request body.")
	}
	if len(b) > maxJSONBody {
		return nil, helpline.Errorf(helpline.EINVALID, "The request body exceeds %d bytes.", maxJSONBody)
	}
	return b, nil
}

// decodeJSON decodes a request body into v as the AWS services do:
// member names match exactly (case-sensitive), unknown members are
// ignored as the SDKs ignore them, and a member named twice is refused
// rather than letting one of the two win. An empty body is an empty
// object. Malformed JSON, trailing data, invalid UTF-8, duplicate members
// and values of the wrong JSON type are EINVALID.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	return decodeError(err)
}

// decodeError is decodeJSON's error for err, apart so that a body that
// decodes allocates none of the targets of errors.As.
func decodeError(err error) error {
	var semErr *json.SemanticError
	var synErr *jsontext.SyntacticError
	switch {
	case errors.As(err, &synErr) && errors.Is(err, jsontext.ErrDuplicateName):
		return helpline.Errorf(helpline.EINVALID, "The request body names %s more than once.", member(synErr.JSONPointer))
	case errors.As(err, &semErr) && semErr.JSONKind != 0:
		if semErr.JSONPointer == "" {
			return helpline.Errorf(helpline.EINVALID, "The request body must be a JSON object.")
		}
		return helpline.Errorf(helpline.EINVALID, "%s must not be a JSON %s.", member(semErr.JSONPointer), kindName(semErr.JSONKind))
	default:
		return helpline.Errorf(helpline.EINVALID, "The request body is not valid JSON.")
	}
}

// member turns a JSON pointer such as /StartPosition/Id into the member
// path StartPosition.Id that error messages name.
func member(p jsontext.Pointer) string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "/"), "/", ".")
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

// check collects the first validation failure of a request. Lengths count
// Unicode code points, as the model's length traits do.
type check struct{ err error }

func (c *check) fail(format string, args ...any) {
	if c.err == nil {
		c.err = helpline.Errorf(helpline.EINVALID, format, args...)
	}
}

// required checks a required string member and its length.
func (c *check) required(name, v string, min, max int) {
	if v == "" {
		c.fail("%s is required.", name)
		return
	}
	c.length(name, v, min, max)
}

// optional checks an optional string member that, when present, must
// satisfy min..max.
func (c *check) optional(name string, v *string, min, max int) {
	if v != nil {
		c.length(name, *v, min, max)
	}
}

func (c *check) length(name, v string, min, max int) {
	if n := utf8.RuneCountInString(v); n < min || n > max {
		if min == max {
			c.fail("%s must be exactly %d characters long.", name, min)
		} else {
			c.fail("%s must be %d to %d characters long.", name, min, max)
		}
	}
}

// oneOf checks an enum member; empty means absent.
func (c *check) oneOf(name, v string, allowed ...string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.fail("%s must be one of %s.", name, strings.Join(allowed, ", "))
}

// between checks an optional integer member.
func (c *check) between(name string, v *int64, min, max int64) {
	if v != nil && (*v < min || *v > max) {
		c.fail("%s must be between %d and %d.", name, min, max)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
