package helpline

// EventHandoff, a Helpline event, records that a bot handed the contact
// to a person: its content is a HandoffContext as JSON. The runner
// appends it right after the owner change that moves the contact from
// the bot to a queue, so that an agent or a helpdesk reads why, and what
// the bot learnt, before the conversation goes on.
const EventHandoff = HelplineEventPrefix + "handoff"

// BotSummaryAttribute is the contact attribute holding the summary of
// the bot's last handoff (HandoffContext.Summary), set with the handoff:
// the agent API shows it as the chat's bot_summary.
const BotSummaryAttribute = "bot_summary"

// HandoffContext is the content of a handoff EVENT.
type HandoffContext struct {
	// Bot is the bot's owner (bot:<id>); Queue the queue it handed to.
	Bot   string `json:"bot"`
	Queue string `json:"queue"`
	// Reason is the bot's reason, such as "refund_above_limit" or
	// "bot_error".
	Reason string `json:"reason"`
	// Summary is what the agent reads first.
	Summary string `json:"summary,omitempty"`
	// Intents are the intents the bot understood, in the order it first
	// did; Entities what it extracted (order number, email...).
	Intents  []string          `json:"intents,omitempty"`
	Entities map[string]string `json:"entities,omitempty"`
	// Customer is who the customer is, as far as Helpline knows.
	Customer HandoffCustomer `json:"customer"`
	// FirstSeq and LastSeq bound the bot's part of the transcript: from
	// the first customer item it answered to its last.
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
}

// HandoffCustomer is the customer's identity in a HandoffContext.
type HandoffCustomer struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// EventHandback, a Helpline event, records that an agent handed the
// contact back to the flow's bot: its content is a HandbackContext as
// JSON. The engine appends it right after the owner change from the agent
// to the bot, so that a helpdesk sees where the human part ends; the
// customer's items before that change were the agent's, and the bot
// answers only those after it.
const EventHandback = "application/vnd.helpline.event.handback"

// ReasonHandback is the Reason of the owner change that hands a contact
// back to its bot.
const ReasonHandback = "handback"

// HandbackContext is the content of a handback EVENT.
type HandbackContext struct {
	// Bot is the new owner (bot:<id>); Agent the agent that had the
	// contact (agent:<id>); Actor who decided (the agent itself, a
	// supervisor, a token).
	Bot   string `json:"bot"`
	Agent string `json:"agent"`
	Actor string `json:"actor"`
}

// OfferPreview is what an agent reads of a chat it is offered, before it
// accepts: why the bot handed it over, what the customer last asked, and
// who the customer is. Only the agent the chat is offered to reads it
// (the agent API's offers and the offer frames of its WebSocket).
type OfferPreview struct {
	// Reason, Summary and Intents are the last handoff's (HandoffContext);
	// empty when no bot handed the chat over.
	Reason  string
	Summary string
	Intents []string
	// LastQuestion is the customer's last text message, cut to
	// OfferPreviewTextMax runes.
	LastQuestion string
	// CustomerName is the customer's display name.
	CustomerName string
	// Identity is IdentityVerified or IdentityUnverified when the widget
	// started the chat (the contact's helpline_identity_verified), empty
	// when nothing says.
	Identity string
	// Attributes are the key facts: the handoff's entities, then the
	// contact's own attributes (not Helpline's helpline_* nor the bot's
	// bot_*), at most OfferPreviewAttributesMax of them.
	Attributes map[string]string
}

// Identity labels of an OfferPreview.
const (
	IdentityVerified   = "verified"
	IdentityUnverified = "unverified"
)

// Bounds of an OfferPreview, which goes with every offer.
const (
	OfferPreviewTextMax       = 280
	OfferPreviewAttributesMax = 8
)
