package helpline

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// CannedResponse is a reply an instance's agents insert into a chat by
// its shortcut (typing "/" and the shortcut in the console). Admins
// manage them; every agent of the instance reads them.
type CannedResponse struct {
	InstanceID string
	ID         string
	// Shortcut is unique within the instance: lower-case letters, digits,
	// '-' and '_', 1 to MaxCannedShortcut characters.
	Shortcut  string
	Text      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits of canned responses.
const (
	MaxCannedShortcut    = 32
	MaxCannedText        = 4000 // characters
	MaxCannedPerInstance = 500
)

// ResourceCannedResponse names what ENOTFOUND errors of the canned
// responses did not find.
const ResourceCannedResponse = "CANNED_RESPONSE"

// Normalize trims the shortcut, drops a leading "/" and lower-cases it,
// and trims the text's surrounding white space.
func (c *CannedResponse) Normalize() {
	c.Shortcut = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(c.Shortcut), "/"))
	c.Text = strings.TrimSpace(c.Text)
}

// Check returns EINVALID for a shortcut or text outside the rules.
func (c *CannedResponse) Check() error {
	if c.Shortcut == "" || len(c.Shortcut) > MaxCannedShortcut {
		return Errorf(EINVALID, "A shortcut is 1 to %d characters long.", MaxCannedShortcut)
	}
	for _, r := range c.Shortcut {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Errorf(EINVALID, "A shortcut has only letters a-z, digits, '-' and '_'.")
		}
	}
	if c.Text == "" || !utf8.ValidString(c.Text) || utf8.RuneCountInString(c.Text) > MaxCannedText {
		return Errorf(EINVALID, "A canned response's text is 1 to %d characters of UTF-8.", MaxCannedText)
	}
	return nil
}

// CannedStore keeps instances' canned responses. Every method is safe for
// concurrent use.
type CannedStore interface {
	// CreateCannedResponse stores a new canned response (Check first).
	// Errors: EINVALID (no ID or instance, or Check); ENOTFOUND (Resource
	// INSTANCE); ECONFLICT when the ID or the instance's shortcut is in
	// use; EQUOTA when the instance already has max of them (0: no limit),
	// counted in the same transaction.
	CreateCannedResponse(ctx context.Context, c *CannedResponse, max int) error
	// UpdateCannedResponse replaces the shortcut, text and UpdatedAt of the
	// instance's canned response c.ID. Errors: EINVALID (Check); ENOTFOUND
	// (Resource CANNED_RESPONSE), also for one of another instance;
	// ECONFLICT when another of the instance has the shortcut.
	UpdateCannedResponse(ctx context.Context, c *CannedResponse) error
	// DeleteCannedResponse deletes the instance's canned response id.
	// Errors: ENOTFOUND (Resource CANNED_RESPONSE), also for one of
	// another instance.
	DeleteCannedResponse(ctx context.Context, instanceID, id string) error
	// FindCannedResponses returns the instance's canned responses ordered
	// by shortcut.
	FindCannedResponses(ctx context.Context, instanceID string) ([]*CannedResponse, error)
}
