// Package chat is Helpline's engine: it implements helpline.ContactService,
// ParticipantService, Feed and Intake on top of a helpline.Store (the
// record), a helpline.Bus (wake-up and fan-out) and a helpline.BlobStore
// (attachment files), with the semantics of the Amazon Connect chat APIs.
//
// # Lifecycle
//
// StartChat stores a contact, its customer and its opening items in one
// transaction (participant.joined, the flow's greeting, the initial
// message); AddParticipant adds bots and agents. A contact ends when it is
// stopped (StopContact), when its customer disconnects, or when its chat
// duration runs out (Run sweeps; ExpireDue does one sweep). Ending stores a
// participant.left item for everyone still present, the customer last, and
// then a chat.ended item, all in the same transaction. An agent or bot that
// disconnects leaves alone; the chat goes on.
//
// # Items
//
// Every operation that changes a transcript stores its item first and then
// publishes it on the bus; typing events are published and never stored.
// Every item carries its contact, id, sender (participant id, display name,
// role) and a UTC time with millisecond precision. Writes are idempotent on
// the caller's ClientToken, as the store's are: a retry returns the stored
// result and publishes nothing.
//
// # Fan-out
//
// A Service holds one all-contacts bus subscription. Its dispatcher routes
// each event to the sinks watching that contact (Watch), in Seq order and
// exactly once per sink: it tracks the last Seq each sink received and,
// when an event arrives with a gap or the subscription reports lost events,
// catches the sinks up from the store in a short-lived goroutine, never in
// the dispatcher. No goroutine runs per sink or per contact, so idle
// watchers cost a few dozen bytes each.
//
// # Sessions
//
// Participant, connection and WebSocket tokens are signed helpline.Tokens
// whose subject is the participant id. Authenticate caches sessions so that
// the hot path checks only the signature; ending a contact or a participant
// leaving evicts them at once on the node that did it and, through the bus,
// on the others.
package chat
