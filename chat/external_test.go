package chat_test

import (
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/inmem"
)

func withMirrors(names ...string) envOption {
	return func(c *chat.Config, _ *[]inmem.Option) { c.Mirrors = names }
}

func (e *env) postExternal(t *testing.T, in helpline.ExternalMessage) *helpline.Item {
	t.Helper()
	if in.Origin == "" {
		in.Origin = "zendesk"
	}
	if in.ContentType == "" {
		in.ContentType = helpline.ContentPlain
	}
	it, err := e.svc.PostExternalMessage(ctx, in)
	if err != nil {
		t.Fatalf("PostExternalMessage(%+v): %v", in, err)
	}
	return it
}

func TestPostExternalAgentReply(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, c.LastSeq, s); err != nil {
		t.Fatal(err)
	}

	reply := e.postExternal(t, helpline.ExternalMessage{
		ContactID: c.ID, Role: helpline.RoleAgent, AuthorName: "Dana", ExternalID: "comment-1", Content: "Your order ships today.",
	})
	got := s.waitN(t, 2)
	if got[0].ContentType != helpline.EventParticipantJoined || got[0].DisplayName != "Dana" || got[0].Role != helpline.RoleAgent {
		t.Errorf("first delivered %+v, want Dana's participant.joined", got[0])
	}
	if m := got[1]; m.ID != reply.ID || m.Content != "Your order ships today." || m.Role != helpline.RoleAgent ||
		m.DisplayName != "Dana" || m.Origin != "zendesk" || m.ParticipantID != got[0].ParticipantID {
		t.Errorf("delivered reply %+v, want Dana's message with Origin zendesk", m)
	}

	// Dana's next comment comes from the same participant; another agent
	// joins once.
	again := e.postExternal(t, helpline.ExternalMessage{
		ContactID: c.ID, Role: helpline.RoleAgent, AuthorName: "Dana", ExternalID: "comment-2", Content: "Anything else?",
	})
	other := e.postExternal(t, helpline.ExternalMessage{
		ContactID: c.ID, Role: helpline.RoleAgent, AuthorName: "Sam", ExternalID: "comment-3", Content: "Hi, Sam here.",
	})
	if again.ParticipantID != reply.ParticipantID || other.ParticipantID == reply.ParticipantID {
		t.Errorf("participants: Dana %s then %s, Sam %s; want Dana's reused and Sam's own", reply.ParticipantID, again.ParticipantID, other.ParticipantID)
	}
	want := []string{
		helpline.EventParticipantJoined,                                               // customer
		helpline.EventParticipantJoined, helpline.ContentPlain, helpline.ContentPlain, // Dana
		helpline.EventParticipantJoined, helpline.ContentPlain, // Sam
	}
	if got := contentTypes(e.items(t, c.ID)); !equal(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	ps, err := e.store.FindParticipants(ctx, c.ID)
	if err != nil || len(ps) != 3 {
		t.Fatalf("participants %d, %v; want customer, Dana, Sam", len(ps), err)
	}
}

func TestPostExternalIdempotent(t *testing.T) {
	e := newEnv(t)
	started, customer := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	s := newSink(0)
	if _, err := e.svc.Watch(ctx, customer, c.LastSeq, s); err != nil {
		t.Fatal(err)
	}
	in := helpline.ExternalMessage{ContactID: c.ID, Role: helpline.RoleAgent, AuthorName: "Dana", ExternalID: "comment-1", Content: "Hello"}
	first := e.postExternal(t, in)
	retry := e.postExternal(t, in)
	if retry.ID != first.ID || retry.Seq != first.Seq {
		t.Errorf("retry returned item %s/%d, want the stored %s/%d", retry.ID, retry.Seq, first.ID, first.Seq)
	}
	// The same ExternalID from another connector is another message.
	in.Origin = "freshdesk"
	if elsewhere := e.postExternal(t, in); elsewhere.ID == first.ID || elsewhere.Origin != "freshdesk" {
		t.Errorf("another origin's message %+v, want a new item with its origin", elsewhere)
	}
	// Two joins (Dana of each origin) and two messages: the retry
	// published nothing.
	s.waitN(t, 4)
	e.send(t, customer, "marker")
	got := s.waitN(t, 5)
	if len(got) != 5 || got[4].Content != "marker" {
		t.Errorf("sink got %v, want the retry not delivered", contentTypes(got))
	}
	if n := len(e.items(t, c.ID)); n != 6 {
		t.Errorf("%d stored items, want 6", n)
	}
}

func TestPostExternalCustomer(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{})
	it := e.postExternal(t, helpline.ExternalMessage{
		ContactID: started.Contact.ID, Origin: "stream", Role: helpline.RoleCustomer, ExternalID: "msg-1",
		ContentType: helpline.ContentMarkdown, Content: "**help**",
	})
	if it.ParticipantID != started.Participant.ID || it.Role != helpline.RoleCustomer || it.DisplayName != "Casey" ||
		it.Origin != "stream" || it.ContentType != helpline.ContentMarkdown || it.ClientToken != "stream:msg-1" {
		t.Errorf("customer message %+v", it)
	}
	stored, err := e.store.FindItemByID(ctx, started.Contact.ID, it.ID)
	if err != nil || stored.Origin != "stream" {
		t.Errorf("stored item %+v, %v; want Origin stream", stored, err)
	}
}

func TestPostExternalEndedContact(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{})
	c := started.Contact
	in := helpline.ExternalMessage{ContactID: c.ID, Role: helpline.RoleAgent, AuthorName: "Dana", ExternalID: "comment-1", Content: "Hello"}
	first := e.postExternal(t, in)
	if err := e.svc.StopContact(ctx, c.InstanceID, c.ID); err != nil {
		t.Fatal(err)
	}
	before := len(e.items(t, c.ID))
	if retry := e.postExternal(t, in); retry.ID != first.ID {
		t.Errorf("retry after the end returned %s, want the stored %s", retry.ID, first.ID)
	}
	for _, late := range []helpline.ExternalMessage{
		{ContactID: c.ID, Origin: "zendesk", Role: helpline.RoleAgent, AuthorName: "Dana", ExternalID: "comment-2", ContentType: helpline.ContentPlain, Content: "Late"},
		{ContactID: c.ID, Origin: "zendesk", Role: helpline.RoleAgent, AuthorName: "Sam", ExternalID: "comment-3", ContentType: helpline.ContentPlain, Content: "Late"},
		{ContactID: c.ID, Origin: "zendesk", Role: helpline.RoleCustomer, ExternalID: "comment-4", ContentType: helpline.ContentPlain, Content: "Late"},
	} {
		_, err := e.svc.PostExternalMessage(ctx, late)
		wantCode(t, err, helpline.EFORBIDDEN)
	}
	if after := len(e.items(t, c.ID)); after != before {
		t.Errorf("%d items after refused posts, want %d", after, before)
	}
}

func TestPostExternalInvalid(t *testing.T) {
	e := newEnv(t)
	started, _ := e.start(t, helpline.StartChatInput{})
	id := started.Contact.ID
	good := helpline.ExternalMessage{ContactID: id, Origin: "zendesk", Role: helpline.RoleAgent, AuthorName: "Dana",
		ExternalID: "c-1", ContentType: helpline.ContentPlain, Content: "Hello"}
	for name, edit := range map[string]func(*helpline.ExternalMessage){
		"no contact":         func(m *helpline.ExternalMessage) { m.ContactID = "" },
		"no origin":          func(m *helpline.ExternalMessage) { m.Origin = "" },
		"no external id":     func(m *helpline.ExternalMessage) { m.ExternalID = "" },
		"long external id":   func(m *helpline.ExternalMessage) { m.ExternalID = strings.Repeat("x", 500) },
		"bot role":           func(m *helpline.ExternalMessage) { m.Role = helpline.RoleBot },
		"agent without name": func(m *helpline.ExternalMessage) { m.AuthorName = "" },
		"unknown type":       func(m *helpline.ExternalMessage) { m.ContentType = "text/html" },
		"empty content":      func(m *helpline.ExternalMessage) { m.Content = "" },
		"long content":       func(m *helpline.ExternalMessage) { m.Content = strings.Repeat("x", 1025) },
	} {
		in := good
		edit(&in)
		_, err := e.svc.PostExternalMessage(ctx, in)
		if helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("%s: error %v, want EINVALID", name, err)
		}
	}
	in := good
	in.ContactID = "no-such-contact"
	_, err := e.svc.PostExternalMessage(ctx, in)
	wantCode(t, err, helpline.ENOTFOUND)
	if n := len(e.items(t, id)); n != 1 {
		t.Errorf("%d items after refused posts, want 1", n)
	}
}

func TestStartChatCreatesMirrorPairs(t *testing.T) {
	e := newEnv(t, withMirrors("hooks", "zendesk"))
	started, _ := e.start(t, helpline.StartChatInput{ClientToken: "start-1"})
	e.start(t, helpline.StartChatInput{ClientToken: "start-1"}) // a retry
	pairs, err := e.store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 {
		t.Fatalf("%d pairs, want 2", len(pairs))
	}
	for i, name := range []string{"hooks", "zendesk"} {
		if p := pairs[i]; p.Connector != name || p.ContactID != started.Contact.ID || p.Cursor != 0 ||
			p.State != helpline.MirrorActive || p.LastSeq != started.Contact.LastSeq {
			t.Errorf("pair %d: %+v", i, p)
		}
	}
}
