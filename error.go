package helpline

import (
	"errors"
	"fmt"
)

// Error codes. Each transport maps them to its own statuses and exception
// names in exactly one table.
const (
	EINVALID     = "invalid"     // the request is malformed or breaks a documented limit
	ENOTFOUND    = "not_found"   // the named resource does not exist
	EFORBIDDEN   = "forbidden"   // the caller may not do this: bad, expired or ended token
	ECONFLICT    = "conflict"    // the resource is not in a state that allows this
	EQUOTA       = "quota"       // a quota (active chats, attachments per contact) is used up
	ETHROTTLED   = "throttled"   // a request-rate limit was exceeded
	EUNSUPPORTED = "unsupported" // the outside system has no documented way to do this (a ticket action a helpdesk lacks)
	EINTERNAL    = "internal"    // a fault of ours; the message is not shown to clients
)

// Error is an application error with a code from the set above and a
// message fit to show a client.
type Error struct {
	Code    string
	Message string
	// Resource names the kind of thing not found (CONTACT, PARTICIPANT,
	// INSTANCE, CONTACT_FLOW, ...) for ENOTFOUND, when known.
	Resource string
	// ResourceID is the id that was not found.
	ResourceID string
}

func (e *Error) Error() string {
	return fmt.Sprintf("helpline error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns an ENOTFOUND error for the resource kind and id.
func NotFound(resource, id string) *Error {
	return &Error{Code: ENOTFOUND, Message: fmt.Sprintf("%s %s not found", humanResource(resource), id), Resource: resource, ResourceID: id}
}

func humanResource(r string) string {
	switch r {
	case ResourceContact:
		return "contact"
	case ResourceParticipant:
		return "participant"
	case ResourceInstance:
		return "instance"
	case ResourceContactFlow:
		return "contact flow"
	case ResourceAttachment:
		return "attachment"
	case ResourceAgent:
		return "agent"
	case ResourceQueue:
		return "queue"
	case ResourceOffer:
		return "offer"
	case ResourceSession:
		return "session"
	case ResourceAPIToken:
		return "API token"
	case ResourceWidget:
		return "widget settings of instance"
	}
	return "resource"
}

// Resource kinds used in ENOTFOUND errors; the names are Connect's
// ResourceType values where Connect has one.
const (
	ResourceContact     = "CONTACT"
	ResourceContactFlow = "CONTACT_FLOW"
	ResourceInstance    = "INSTANCE"
	ResourceParticipant = "PARTICIPANT"
	ResourceAttachment  = "ATTACHMENT"
	ResourceItem        = "ITEM"
)

// ErrorCode returns the code of err if it is, or wraps, an *Error, and
// EINTERNAL otherwise. A nil error has no code.
func ErrorCode(err error) string {
	if err == nil {
		return "" // before e, which escapes: a nil error costs no allocation
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the message of an
// *Error, and a generic text for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
