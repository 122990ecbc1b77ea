package helpline

import (
	"strings"
	"time"
)

// CSAT is a flow's customer-satisfaction question at the end of a chat:
// when an agent closes a chat of the flow, the contact does not end at
// once but moves to OwnerCSAT, the customer is asked Question as a quick
// reply of 1 to 5, and the answer is kept (CSATAttribute and an EventCSAT
// item) before Thanks and the end. Without an answer within Wait the
// chat ends with no rating; a customer who leaves ends it at once.
type CSAT struct {
	Question string        `json:"question,omitempty"`
	Thanks   string        `json:"thanks,omitempty"`
	Wait     time.Duration `json:"wait,omitempty"`
}

// CSAT defaults, for the fields a flow leaves empty.
const (
	DefaultCSATQuestion = "How would you rate this chat, from 1 (poor) to 5 (excellent)?"
	DefaultCSATThanks   = "Thank you for your feedback!"
	DefaultCSATWait     = 2 * time.Minute
)

// WithDefaults returns the question with the defaults in its empty
// fields; a nil CSAT is the defaults.
func (q *CSAT) WithDefaults() CSAT {
	var out CSAT
	if q != nil {
		out = *q
	}
	if out.Question == "" {
		out.Question = DefaultCSATQuestion
	}
	if out.Thanks == "" {
		out.Thanks = DefaultCSATThanks
	}
	if out.Wait <= 0 {
		out.Wait = DefaultCSATWait
	}
	return out
}

// OwnerCSAT owns a contact while its customer is asked the CSAT question
// (the bot runner asks it as the chat's bot). A flow with a bot may
// therefore not have the id "csat".
const OwnerCSAT = OwnerBot + ":csat"

// ReasonCSAT is the Reason of the owner change that moves a closed chat
// to OwnerCSAT.
const ReasonCSAT = "csat"

// CSATAttribute is the contact attribute holding the customer's rating,
// "1" to "5".
const CSATAttribute = "csat"

// EventCSAT, a Helpline event, records the customer's rating: its
// content is a CSATRating as JSON. It is stored before the thanks and the
// end of the chat, so that helpdesks mirror it with the transcript.
const EventCSAT = HelplineEventPrefix + "csat"

// CSATRating is the content of a csat EVENT.
type CSATRating struct {
	// Rating is 1 (poor) to 5 (excellent).
	Rating int `json:"rating"`
	// Owner is who held the chat when it was closed (agent:<id>, or a
	// queue or bot when a supervisor closed it there),
	// empty when nobody held it.
	Owner string `json:"owner,omitempty"`
}

// ParseCSAT returns the rating a customer's answer gives: the answer,
// spaces trimmed, must be one digit from 1 to 5.
func ParseCSAT(answer string) (int, bool) {
	s := strings.TrimSpace(answer)
	if len(s) != 1 || s[0] < '1' || s[0] > '5' {
		return 0, false
	}
	return int(s[0] - '0'), true
}
