package zendesksell_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesksell"
	"github.com/helplinehq/helpline/connector/zendesksell/zendeskselltest"
)

var ctx = context.Background()

const token = "sell-token"

// newConnector builds a connector of kind zendesksell against fake with
// the YAML settings given (base_url and token_env are added).
func newConnector(t *testing.T, fake *zendeskselltest.Server, settings string) *zendesksell.Connector {
	t.Helper()
	conf := fmt.Sprintf("base_url: %s\ntoken_env: SELL_TOKEN\nrequests_per_second: 100000\n%s", fake.URL, settings)
	c, err := build(conf, map[string]string{"SELL_TOKEN": token})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*zendesksell.Connector)
}

func config(conf string, env map[string]string) helpline.ConnectorConfig {
	return helpline.ConnectorConfig{
		Name: "sell",
		Decode: func(v any) error {
			dec := yaml.NewDecoder(strings.NewReader(conf))
			dec.KnownFields(true)
			return dec.Decode(v)
		},
		Getenv: func(k string) string { return env[k] },
	}
}

// node is what a node provisions the connector with.
var node = helpline.ConnectorNode{MarkerKey: []byte("marker-key-of-this-installation!")}

// build builds a connector of kind zendesksell and provisions it with
// node, as a node does.
func build(conf string, env map[string]string) (helpline.Mirrorer, error) {
	c, err := helpline.NewConnector("zendesksell", config(conf, env))
	if err != nil {
		return nil, err
	}
	return c.(helpline.Mirrorer), c.(helpline.Provisioner).Provision(ctx, node)
}

var t0 = time.Date(2025, 3, 1, 10, 42, 7, 0, time.UTC)

// chat is a contact with a customer and an agent whose messages are
// numbered from 1.
type chat struct {
	contact *helpline.Contact
	parts   []*helpline.Participant
	refs    map[string]string
	seq     int64
}

func newChat(id string, attrs map[string]string) *chat {
	return &chat{
		contact: &helpline.Contact{ID: id, Attributes: attrs},
		parts: []*helpline.Participant{
			{ID: id + "-c", Role: helpline.RoleCustomer, DisplayName: "Ada Lovelace"},
			{ID: id + "-a", Role: helpline.RoleAgent, DisplayName: "Grace"},
		},
	}
}

// batch returns the next n messages, customer and agent alternating.
func (c *chat) batch(n int) *helpline.MirrorBatch {
	b := &helpline.MirrorBatch{Contact: c.contact, Participants: c.parts, Refs: c.refs}
	for i := 0; i < n; i++ {
		c.seq++
		p := c.parts[c.seq%2]
		b.Items = append(b.Items, &helpline.Item{
			ContactID: c.contact.ID, Seq: c.seq, Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
			Content: fmt.Sprintf("%s line %d", c.contact.ID, c.seq), ParticipantID: p.ID, DisplayName: p.DisplayName,
			Role: p.Role, Time: t0.Add(time.Duration(c.seq) * time.Second),
		})
	}
	return b
}

// deliver mirrors b and takes the refs, failing on any error.
func (c *chat) deliver(t *testing.T, conn helpline.Mirrorer, b *helpline.MirrorBatch) {
	t.Helper()
	res, err := conn.Mirror(ctx, b)
	if err != nil {
		t.Fatalf("Mirror %s: %v", c.contact.ID, err)
	}
	if res.Delivered != len(b.Items) {
		t.Fatalf("Delivered = %d, want %d", res.Delivered, len(b.Items))
	}
	c.refs = res.Refs
}

func leadOf(t *testing.T, c *chat) int64 {
	t.Helper()
	id, err := strconv.ParseInt(c.refs[zendesksell.RefLeadID], 10, 64)
	if err != nil {
		t.Fatalf("refs %v: %v", c.refs, err)
	}
	return id
}

func TestNotesModeCreatesLeadAndOneNotePerBatch(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	conn := newConnector(t, fake, "")
	c := newChat("c1", map[string]string{"email": "ada@example.com"})
	for i := 0; i < 3; i++ {
		c.deliver(t, conn, c.batch(2))
	}
	leads := fake.Leads()
	if len(leads) != 1 || leads[0].Email != "ada@example.com" || leads[0].FirstName != "Ada" || leads[0].LastName != "Lovelace" {
		t.Fatalf("leads = %+v", leads)
	}
	notes := fake.Notes(leadOf(t, c))
	if len(notes) != 3 {
		t.Fatalf("%d notes, want 3", len(notes))
	}
	want := "[10:42:08] Grace (agent): c1 line 1\n[10:42:09] Ada Lovelace (customer): c1 line 2\n— helpline c1 seq 1-2 #1deee456074612e0"
	if notes[0].Content != want {
		t.Errorf("first note:\n%s\nwant:\n%s", notes[0].Content, want)
	}
	if !strings.HasSuffix(notes[2].Content, "c1 line 6\n— helpline c1 seq 5-6 #c01d2ee13c796ff5") {
		t.Errorf("last note:\n%s", notes[2].Content)
	}
}

func TestFindsLeadByEmailOrAttribute(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	known := fake.AddLead(zendeskselltest.Lead{LastName: "Known", Email: "known@example.com"})
	chosen := fake.AddLead(zendeskselltest.Lead{OrganizationName: "Acme"})
	conn := newConnector(t, fake, "lead_attribute: sell_lead")

	byEmail := newChat("c1", map[string]string{"email": "known@example.com"})
	byEmail.deliver(t, conn, byEmail.batch(1))
	byAttr := newChat("c2", map[string]string{"email": "known@example.com", "sell_lead": strconv.FormatInt(chosen, 10)})
	byAttr.deliver(t, conn, byAttr.batch(1))
	if got := leadOf(t, byEmail); got != known {
		t.Errorf("by email: lead %d, want %d", got, known)
	}
	if got := leadOf(t, byAttr); got != chosen {
		t.Errorf("by attribute: lead %d, want %d", got, chosen)
	}
	if n := len(fake.Leads()); n != 2 {
		t.Errorf("%d leads, want the 2 that existed", n)
	}
}

func TestContactsOfOneEmailShareOneLead(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	fake.SetDelay(5 * time.Millisecond)
	conn := newConnector(t, fake, "")
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		c := newChat(fmt.Sprintf("c%d", i), map[string]string{"email": "same@example.com"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.deliver(t, conn, c.batch(1))
		}()
	}
	wg.Wait()
	if leads := fake.Leads(); len(leads) != 1 {
		t.Fatalf("%d leads, want 1", len(leads))
	}
}

func TestRetryAfterLandedNoteWritesNothingTwice(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	conn := newConnector(t, fake, "")
	c := newChat("c1", map[string]string{"email": "ada@example.com"})
	first := c.batch(3)
	c.deliver(t, conn, first)
	// The note landed but the cursor was not committed: the same items
	// come again, with one more that arrived since.
	retry := &helpline.MirrorBatch{Contact: c.contact, Participants: c.parts, Refs: c.refs, Attempt: 1, Items: append(first.Items, c.batch(1).Items...)}
	res, err := conn.Mirror(ctx, retry)
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 3 {
		t.Fatalf("Delivered = %d, want the 3 that landed", res.Delivered)
	}
	if n := len(fake.Notes(leadOf(t, c))); n != 1 {
		t.Fatalf("%d notes, want 1", n)
	}
	// The fourth item comes alone next; a retry of a batch that never
	// landed is written.
	rest := &helpline.MirrorBatch{Contact: c.contact, Participants: c.parts, Refs: c.refs, Attempt: 2, Items: retry.Items[3:]}
	if res, err := conn.Mirror(ctx, rest); err != nil || res.Delivered != 1 {
		t.Fatalf("Mirror = %+v, %v", res, err)
	}
	notes := fake.Notes(leadOf(t, c))
	if len(notes) != 2 || !strings.HasSuffix(notes[1].Content, "\n— helpline c1 seq 4-4 #e31fe12d65c22c83") {
		t.Fatalf("notes = %+v", notes)
	}
}

// Fifty contacts of one lead deliver twenty batches each at the same
// time; the fake's lead update is a plain overwrite, so any unserialised
// read-modify-write would lose lines.
func TestDescriptionModeLosesNoLineUnderConcurrency(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	leadID := fake.AddLead(zendeskselltest.Lead{LastName: "Shared"})
	conn := newConnector(t, fake, "mode: description\nlead_attribute: lead")
	const contacts, batches, perBatch = 50, 20, 2
	var wg sync.WaitGroup
	for i := 0; i < contacts; i++ {
		c := newChat(fmt.Sprintf("k%02d", i), map[string]string{"lead": strconv.FormatInt(leadID, 10)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < batches; j++ {
				c.deliver(t, conn, c.batch(perBatch))
			}
		}()
	}
	wg.Wait()
	// 2,000 lines outgrow the description (64,000 characters at most):
	// the rest go into notes, after a pointer line.
	l, _ := fake.Lead(leadID)
	if n := len([]rune(l.Description)); n > 64000 || !strings.HasSuffix(l.Description, "later chat lines are in this lead's notes.)") {
		t.Fatalf("description of %d characters ends %q, want at most 64,000 ending with the pointer to the notes", n, l.Description[len(l.Description)-80:])
	}
	all := l.Description + "\n"
	for _, n := range fake.Notes(leadID) {
		all += n.Content + "\n"
	}
	for i := 0; i < contacts; i++ {
		id := fmt.Sprintf("k%02d", i)
		last := -1
		for s := 1; s <= batches*perBatch; s++ {
			line := fmt.Sprintf(": %s line %d\n", id, s)
			if n := strings.Count(all, line); n != 1 {
				t.Fatalf("%q appears %d times", line, n)
			}
			at := strings.Index(all, line)
			if at < last {
				t.Fatalf("%q out of order", line)
			}
			last = at
		}
	}
}

// Once the description is full, every later batch goes into a note, even
// one short enough to fit in what is left: a contact's lines stay in
// order, the description's first, then the notes'.
func TestFullDescriptionSendsEveryLaterBatchToNotes(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	earlier := strings.Repeat("an earlier line of another chat\n", 1990) // 63,680 characters
	leadID := fake.AddLead(zendeskselltest.Lead{LastName: "Shared", Description: earlier})
	conn := newConnector(t, fake, "mode: description\nlead_attribute: lead")
	c := newChat("k1", map[string]string{"lead": strconv.FormatInt(leadID, 10)})
	c.deliver(t, conn, c.batch(6)) // does not fit: a note
	c.deliver(t, conn, c.batch(1)) // would fit, but must follow it
	l, _ := fake.Lead(leadID)
	if strings.Contains(l.Description, "k1 line") || !strings.HasSuffix(l.Description, "later chat lines are in this lead's notes.)") {
		t.Errorf("description ends %q, want the earlier lines and the pointer only", l.Description[len(l.Description)-120:])
	}
	var all string
	for _, n := range fake.Notes(leadID) {
		all += n.Content + "\n"
	}
	last := -1
	for s := 1; s <= 7; s++ {
		at := strings.Index(all, fmt.Sprintf(": k1 line %d\n", s))
		if at < 0 || at < last {
			t.Fatalf("line %d at %d after %d in the notes:\n%s", s, at, last, all)
		}
		last = at
	}
}

func TestDescriptionModeRetryFindsMarker(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	leadID := fake.AddLead(zendeskselltest.Lead{LastName: "L", Description: "Met at the fair."})
	conn := newConnector(t, fake, "mode: description\nlead_attribute: lead")
	c := newChat("c1", map[string]string{"lead": strconv.FormatInt(leadID, 10)})
	b := c.batch(2)
	c.deliver(t, conn, b)
	b.Attempt = 1
	c.deliver(t, conn, b)
	l, _ := fake.Lead(leadID)
	want := "Met at the fair.\n\n[10:42:08] Grace (agent): c1 line 1\n[10:42:09] Ada Lovelace (customer): c1 line 2\n— helpline c1 seq 1-2 #1deee456074612e0"
	if l.Description != want {
		t.Fatalf("description:\n%s\nwant:\n%s", l.Description, want)
	}
}

func mirrorErr(t *testing.T, err error) *helpline.MirrorError {
	t.Helper()
	var me *helpline.MirrorError
	if !errors.As(err, &me) {
		t.Fatalf("error %v is not a *MirrorError", err)
	}
	return me
}

func TestOutagesAreRetryableAndDeliverAfterwards(t *testing.T) {
	for _, status := range []int{500, 503, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			fake := zendeskselltest.NewServer(token)
			defer fake.Close()
			conn := newConnector(t, fake, "")
			c := newChat("c1", map[string]string{"email": "ada@example.com"})
			b := c.batch(2)
			fake.SetOutage(status)
			res, err := conn.Mirror(ctx, b)
			if me := mirrorErr(t, err); me.Permanent || me.RetryAfter != 0 {
				t.Fatalf("error %v: want retryable without RetryAfter", me)
			}
			if res.Delivered != 0 {
				t.Fatalf("Delivered = %d during outage", res.Delivered)
			}
			fake.SetOutage(0)
			b.Attempt = 1
			c.deliver(t, conn, b)
			if n := len(fake.Notes(leadOf(t, c))); n != 1 {
				t.Fatalf("%d notes, want 1", n)
			}
		})
	}
}

func TestRateLimitedFakeThrottlesAndConnectorRetries(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	fake.SetRateLimit(1)
	conn := newConnector(t, fake, "")
	c := newChat("c1", map[string]string{"email": "ada@example.com"})
	// Finding the lead, creating it and adding the note take three
	// requests in one second; the second is refused.
	_, err := conn.Mirror(ctx, c.batch(1))
	if me := mirrorErr(t, err); me.Permanent {
		t.Fatalf("429 counted permanent: %v", me)
	}
	if _, throttled := fake.Requests(); throttled == 0 {
		t.Fatal("fake throttled nothing")
	}
}

func TestPermanentFailures(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	conn := newConnector(t, fake, "lead_attribute: lead")

	fake.SetOutage(422)
	c := newChat("c1", map[string]string{"email": "ada@example.com"})
	_, err := conn.Mirror(ctx, c.batch(1))
	if me := mirrorErr(t, err); !me.Permanent || !strings.Contains(me.Error(), "422") {
		t.Fatalf("422: %v", me)
	}
	fake.SetOutage(0)

	gone := newChat("c2", map[string]string{"lead": "999"})
	_, err = conn.Mirror(ctx, gone.batch(1))
	if me := mirrorErr(t, err); !me.Permanent || !strings.Contains(me.Error(), "resource_id") {
		t.Fatalf("unknown lead: %v", me)
	}

	bad, err := build(fmt.Sprintf("base_url: %s\ntoken_env: T", fake.URL), map[string]string{"T": "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Mirror(ctx, newChat("c3", map[string]string{"email": "x@example.com"}).batch(1))
	if me := mirrorErr(t, err); !me.Permanent || !strings.Contains(me.Error(), "401") {
		t.Fatalf("bad token: %v", me)
	}
}

func TestConfigErrors(t *testing.T) {
	env := map[string]string{"T": "x"}
	for conf, want := range map[string]string{
		"token_env: T\nmode: diary":             "mode",
		"base_url: ftp://x\ntoken_env: T":       "base_url",
		"mode: notes":                           "token_env is required",
		"token_env: EMPTY":                      "EMPTY",
		"token_env: T\nbatch_size: -1":          "batch_size",
		"token_env: T\nsecret: 1":               "secret",
		"token_env: T\nrequests_per_second: -2": "requests_per_second",
	} {
		_, err := helpline.NewConnector("zendesksell", config(conf, env))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", conf, err, want)
		}
	}
}

// dispatcher hands a connector one contact's items the way the mirror
// dispatcher does: what follows the cursor, again with Attempt > 0 after
// a failure, dropping what Delivered says landed.
type dispatcher struct {
	conn    helpline.Mirrorer
	chat    *chat
	pending []*helpline.Item
	attempt int
}

// add queues messages with the given contents, as the customer's.
func (d *dispatcher) add(contents ...string) {
	for _, content := range contents {
		d.chat.seq++
		p := d.chat.parts[0]
		d.pending = append(d.pending, &helpline.Item{
			ContactID: d.chat.contact.ID, Seq: d.chat.seq, Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
			Content: content, ParticipantID: p.ID, DisplayName: p.DisplayName, Role: p.Role,
			Time: t0.Add(time.Duration(d.chat.seq) * time.Second),
		})
	}
}

// mirror makes one delivery of everything pending and returns its error.
func (d *dispatcher) mirror() error {
	b := &helpline.MirrorBatch{Contact: d.chat.contact, Participants: d.chat.parts, Refs: d.chat.refs, Attempt: d.attempt, Items: d.pending}
	res, err := d.conn.Mirror(ctx, b)
	if res.Refs != nil {
		d.chat.refs = res.Refs
	}
	d.pending = d.pending[res.Delivered:]
	if err != nil {
		d.attempt++
	} else {
		d.attempt = 0
	}
	return err
}

// A customer who types a marker into the chat must not make the
// connector believe later batches landed: after an uncertain outcome the
// retry must still write what did not land, and nothing twice.
func TestForgedMarkersInChatSkipNothing(t *testing.T) {
	forged := "Hello\n— helpline c1 seq 2-99999\n— helpline c1 seq 4-99999\n" +
		"— helpline c1 seq 2-99999 #0123456789abcdef\n— helpline c1 seq 4-99999 #0123456789abcdef\r— helpline c1 seq 4-99999 #0123456789abcdef"
	for _, mode := range []string{zendesksell.ModeNotes, zendesksell.ModeDescription} {
		t.Run(mode, func(t *testing.T) {
			fake := zendeskselltest.NewServer(token)
			defer fake.Close()
			leadID := fake.AddLead(zendeskselltest.Lead{LastName: "Lovelace"})
			d := &dispatcher{
				conn: newConnector(t, fake, "mode: "+mode+"\nlead_attribute: lead"),
				chat: newChat("c1", map[string]string{"lead": strconv.FormatInt(leadID, 10)}),
			}
			d.add("msg-1 " + forged)
			if err := d.mirror(); err != nil {
				t.Fatal(err)
			}
			// The next write lands but its answer is lost; one more message
			// arrives before the retry.
			d.add("msg-2")
			fake.LoseAnswers(503, 1)
			if err := d.mirror(); err == nil {
				t.Fatal("Mirror succeeded through a lost answer")
			}
			d.add("msg-3")
			for i := 0; len(d.pending) > 0; i++ {
				if i == 5 {
					t.Fatalf("%d items never delivered", len(d.pending))
				}
				if err := d.mirror(); err != nil {
					t.Fatal(err)
				}
			}
			// A write that does not land at all (an outage) is written on
			// the retry.
			d.add("msg-4")
			fake.SetOutage(503)
			if err := d.mirror(); err == nil {
				t.Fatal("Mirror succeeded through an outage")
			}
			fake.SetOutage(0)
			d.add("msg-5")
			for i := 0; len(d.pending) > 0; i++ {
				if i == 5 {
					t.Fatalf("%d items never delivered", len(d.pending))
				}
				if err := d.mirror(); err != nil {
					t.Fatal(err)
				}
			}
			var written string
			if mode == zendesksell.ModeNotes {
				for _, n := range fake.Notes(leadID) {
					written += n.Content + "\n"
				}
			} else {
				l, _ := fake.Lead(leadID)
				written = l.Description
			}
			for i := 1; i <= 5; i++ {
				if n := strings.Count(written, fmt.Sprintf("msg-%d", i)); n != 1 {
					t.Errorf("msg-%d written %d times, want once; Sell holds:\n%s", i, n, written)
				}
			}
		})
	}
}

// A message of several lines continues on indented lines, so that no line
// of chat content can stand alone as a marker.
func TestMultiLineMessageCannotWriteAMarkerLine(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	conn := newConnector(t, fake, "")
	c := newChat("c1", map[string]string{"email": "ada@example.com"})
	d := &dispatcher{conn: conn, chat: c}
	d.add("Hi\n— helpline c1 seq 2-9 #0123456789abcdef\r\nbye\rok")
	if err := d.mirror(); err != nil {
		t.Fatal(err)
	}
	notes := fake.Notes(leadOf(t, c))
	want := "[10:42:08] Ada Lovelace (customer): Hi\n    — helpline c1 seq 2-9 #0123456789abcdef\n    bye\n    ok\n" +
		"— helpline c1 seq 1-1 #9a3d3a735b5abc40"
	if len(notes) != 1 || notes[0].Content != want {
		t.Fatalf("notes = %+v, want one:\n%s", notes, want)
	}
}

func TestNeedsMarkerKey(t *testing.T) {
	c, err := helpline.NewConnector("zendesksell", config("token_env: T", map[string]string{"T": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.(helpline.Provisioner).Provision(ctx, helpline.ConnectorNode{}); err == nil || !strings.Contains(err.Error(), "marker key") {
		t.Fatalf("error %v, want one about the marker key", err)
	}
}

// Sell classifies outcomes as every connector does: a redirect parks the
// pair with its target as the reason (it is never followed), 408
// retries, and a Retry-After is honoured should Sell send one.
func TestOutcomesFollowTheOutboundPolicy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		header    []string
		permanent bool
		wait      time.Duration
		reason    string
	}{
		{"redirect parks", http.StatusFound, []string{"Location", "https://example.com/login"}, true, 0, `redirected to "https://example.com/login"`},
		{"408 retries", http.StatusRequestTimeout, nil, false, 0, "408"},
		{"503 honours Retry-After", http.StatusServiceUnavailable, []string{"Retry-After", "30"}, false, 30 * time.Second, "503"},
		{"429 honours Retry-After", http.StatusTooManyRequests, []string{"Retry-After", "7"}, false, 7 * time.Second, "429"},
		{"429 honours a rate-limit reset", http.StatusTooManyRequests, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "12"}, false, 12 * time.Second, "429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits++
				for i := 0; i < len(tc.header); i += 2 {
					w.Header().Set(tc.header[i], tc.header[i+1])
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			conf := fmt.Sprintf("base_url: %s\ntoken_env: SELL_TOKEN\nrequests_per_second: 100000\n", srv.URL)
			conn, err := build(conf, map[string]string{"SELL_TOKEN": token})
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Mirror(ctx, newChat("c1", map[string]string{"email": "ada@example.com"}).batch(1))
			me := mirrorErr(t, err)
			if me.Permanent != tc.permanent || me.RetryAfter != tc.wait || !strings.Contains(me.Error(), tc.reason) {
				t.Errorf("error %v (permanent %v, retry after %v); want permanent %v, retry after %v, naming %q", me, me.Permanent, me.RetryAfter, tc.permanent, tc.wait, tc.reason)
			}
			if hits != 1 {
				t.Errorf("%d requests reached the server, want 1", hits)
			}
		})
	}
}

// updated returns a batch of the chat's customer.updated item (the
// customer is now name, with attrs) followed by n messages.
func (c *chat) updated(name string, attrs map[string]string, n int) *helpline.MirrorBatch {
	c.parts[0].DisplayName = name
	for k, v := range attrs {
		c.contact.Attributes[k] = v
	}
	c.seq++
	ev := &helpline.Item{ContactID: c.contact.ID, Seq: c.seq, Type: helpline.ItemEvent, ContentType: helpline.EventCustomerUpdated,
		ParticipantID: c.parts[0].ID, DisplayName: name, Role: helpline.RoleCustomer, Time: t0}
	b := c.batch(n)
	b.Items = append([]*helpline.Item{ev}, b.Items...)
	return b
}

// A lead made before the customer's email was known is the customer's
// once the email arrives: renamed and given the email, its earlier lines
// kept, later lines under the customer's name, and no second lead.
func TestProvisionalLeadBecomesTheCustomersLead(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	conn := newConnector(t, fake, "")
	c := newChat("p1", map[string]string{})
	c.parts[0].DisplayName = "Stream user"
	c.deliver(t, conn, c.batch(2))
	c.deliver(t, conn, c.updated("Ada Lovelace", map[string]string{"email": "ada@example.com"}, 2))
	c.deliver(t, conn, c.batch(1)) // later batches go straight to the lead

	leads := fake.Leads()
	if len(leads) != 1 {
		t.Fatalf("%d leads, want 1", len(leads))
	}
	l := leads[0]
	if l.FirstName != "Ada" || l.LastName != "Lovelace" || l.Email != "ada@example.com" {
		t.Errorf("lead %q %q <%s>, want Ada Lovelace <ada@example.com>", l.FirstName, l.LastName, l.Email)
	}
	notes := fake.Notes(l.ID)
	if len(notes) != 3 || !strings.Contains(notes[0].Content, "Stream user (customer): p1 line 2") ||
		!strings.Contains(notes[1].Content, "Ada Lovelace (customer): p1 line 4") {
		t.Fatalf("notes %+v, want the first batch kept and later lines by Ada Lovelace", notes)
	}
}

// When the email belongs to a lead already, the contact moves to it; the
// first line written there points to the lead holding the earlier lines.
func TestProvisionalLeadGivesWayToTheEmailsLead(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	known := fake.AddLead(zendeskselltest.Lead{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"})
	conn := newConnector(t, fake, "mode: description")
	c := newChat("p2", map[string]string{})
	c.parts[0].DisplayName = "Stream user"
	c.deliver(t, conn, c.batch(1))
	first := leadOf(t, c)
	c.deliver(t, conn, c.updated("Ada Lovelace", map[string]string{"email": "ada@example.com"}, 2))
	if leadOf(t, c) != known {
		t.Fatalf("contact on lead %d, want the email's lead %d", leadOf(t, c), known)
	}
	l, _ := fake.Lead(known)
	if !strings.HasPrefix(l.Description, fmt.Sprintf("Earlier lines of this chat are on lead %d.\n", first)) ||
		!strings.Contains(l.Description, "Ada Lovelace (customer)") {
		t.Errorf("description %q, want a pointer to lead %d then Ada's lines", l.Description, first)
	}
	if old, _ := fake.Lead(first); !strings.Contains(old.Description, "p2 line 1") {
		t.Errorf("the earlier line is gone from lead %d: %q", first, old.Description)
	}
}

// lead_id writes every contact to the one configured lead, whatever
// the contact's email.
func TestConfiguredLeadTakesEveryContact(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	lead := fake.AddLead(zendeskselltest.Lead{LastName: "Inbound chats"})
	conn := newConnector(t, fake, fmt.Sprintf("lead_id: %d\nlead_attribute: sell_lead_id", lead))
	for _, attrs := range []map[string]string{{"email": "ada@example.com"}, {"sell_lead_id": "999"}, {}} {
		c := newChat(helpline.NewID(), attrs)
		c.deliver(t, conn, c.batch(1))
		if leadOf(t, c) != lead {
			t.Errorf("contact with %v on lead %d, want %d", attrs, leadOf(t, c), lead)
		}
	}
	if n := len(fake.Leads()); n != 1 {
		t.Errorf("%d leads, want only the configured one", n)
	}
	if _, err := build("token_env: SELL_TOKEN\nlead_id: -3", map[string]string{"SELL_TOKEN": token}); err == nil || !strings.Contains(err.Error(), "lead_id") {
		t.Errorf("lead_id -3: error %v, want one naming lead_id", err)
	}
}

// A lead created for a customer with no email whose answer was lost is
// found on the retry by its signed line and adopted: exactly one lead
// for the contact, each line written once. Another lead of the same name,
// even one whose description imitates the line, is not taken.
func TestLostAnonymousCreateLeavesOneLead(t *testing.T) {
	for _, mode := range []string{zendesksell.ModeNotes, zendesksell.ModeDescription} {
		t.Run(mode, func(t *testing.T) {
			fake := zendeskselltest.NewServer(token)
			defer fake.Close()
			other := fake.AddLead(zendeskselltest.Lead{FirstName: "Stream", LastName: "user",
				Description: "— helpline lead of a1 #0123456789abcdef"})
			conn := newConnector(t, fake, "mode: "+mode)
			c := newChat("a1", map[string]string{})
			c.parts[0].DisplayName = "Stream user"
			b := c.batch(2)
			fake.LoseAnswers(503, 1)
			if _, err := conn.Mirror(ctx, b); err == nil {
				t.Fatal("Mirror succeeded through a lost answer")
			}
			b.Attempt = 1
			c.deliver(t, conn, b)
			leads := fake.Leads()
			if len(leads) != 2 {
				t.Fatalf("%d leads, want the salesperson's and one for the contact: %+v", len(leads), leads)
			}
			mine := leadOf(t, c)
			if mine == other {
				t.Fatalf("the contact took lead %d, whose line is not signed", other)
			}
			var written string
			if mode == zendesksell.ModeNotes {
				for _, n := range fake.Notes(mine) {
					written += n.Content + "\n"
				}
			} else {
				l, _ := fake.Lead(mine)
				written = l.Description
			}
			for i := 1; i <= 2; i++ {
				if n := strings.Count(written, fmt.Sprintf("a1 line %d", i)); n != 1 {
					t.Errorf("line %d written %d times, want once; Sell holds:\n%s", i, n, written)
				}
			}
			if o, _ := fake.Lead(other); len(fake.Notes(other)) != 0 || strings.Contains(o.Description, "a1 line") {
				t.Errorf("lines written to the other lead %d", other)
			}
		})
	}
}

// FindOrCreateLead finds the email's lead, or creates one; a contact of
// that email then mirrors into the same lead.
func TestFindOrCreateLeadSharesTheEmailsLead(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	conn := newConnector(t, fake, "")
	id, err := conn.FindOrCreateLead(ctx, helpline.LeadCustomer{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := conn.FindOrCreateLead(ctx, helpline.LeadCustomer{FirstName: "Ada", LastName: "L.", Email: "ADA@example.com"})
	if err != nil || again != id {
		t.Fatalf("second call: %q, %v; want lead %s", again, err, id)
	}
	c := newChat("f1", map[string]string{"email": "ada@example.com"})
	c.deliver(t, conn, c.batch(1))
	if got := strconv.FormatInt(leadOf(t, c), 10); got != id || len(fake.Leads()) != 1 {
		t.Fatalf("contact on lead %s, %d leads; want the one lead %s", got, len(fake.Leads()), id)
	}
	if l := fake.Leads()[0]; l.FirstName != "Ada" || l.LastName != "Lovelace" {
		t.Errorf("lead named %q %q, want Ada Lovelace", l.FirstName, l.LastName)
	}
	if _, err := conn.FindOrCreateLead(ctx, helpline.LeadCustomer{LastName: "X"}); helpline.ErrorCode(err) != helpline.EINVALID {
		t.Errorf("no email: %v, want EINVALID", err)
	}
	fake.SetOutage(503)
	if _, err := conn.FindOrCreateLead(ctx, helpline.LeadCustomer{LastName: "B", Email: "b@example.com"}); helpline.ErrorCode(err) != helpline.EINTERNAL {
		t.Errorf("outage: %v, want EINTERNAL", err)
	}
}

// sharedLocks is the key locks of a store several nodes share, in one
// process: it records the keys taken.
type sharedLocks struct {
	mu   sync.Mutex // guards held and keys
	held map[string]*sync.Mutex
	keys map[string]int
}

func (l *sharedLocks) LockKey(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.held == nil {
		l.held, l.keys = map[string]*sync.Mutex{}, map[string]int{}
	}
	m := l.held[key]
	if m == nil {
		m = &sync.Mutex{}
		l.held[key] = m
	}
	l.keys[key]++
	l.mu.Unlock()
	m.Lock()
	return m.Unlock, nil
}

// Two connectors, as on two nodes, append to one lead's description at
// once: with the nodes' key locks they take the lead's lock from them,
// under the connector's name, and no line is lost.
func TestDescriptionModeLocksTheLeadAcrossNodes(t *testing.T) {
	fake := zendeskselltest.NewServer(token)
	defer fake.Close()
	leadID := fake.AddLead(zendeskselltest.Lead{LastName: "Shared"})
	locks := &sharedLocks{}
	var nodes []helpline.Mirrorer
	for range 2 {
		c, err := helpline.NewConnector("zendesksell", config(fmt.Sprintf("base_url: %s\ntoken_env: SELL_TOKEN\nrequests_per_second: 100000\nmode: description\nlead_id: %d\n", fake.URL, leadID),
			map[string]string{"SELL_TOKEN": token}))
		if err != nil {
			t.Fatal(err)
		}
		withLocks := node
		withLocks.Locks = locks
		if err := c.(helpline.Provisioner).Provision(ctx, withLocks); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, c.(helpline.Mirrorer))
	}
	const contacts, batches = 10, 5
	var wg sync.WaitGroup
	for i := range contacts {
		c := newChat(fmt.Sprintf("k%02d", i), nil)
		wg.Go(func() {
			for j := range batches {
				c.deliver(t, nodes[(i+j)%2], c.batch(2))
			}
		})
	}
	wg.Wait()
	l, _ := fake.Lead(leadID)
	for i := range contacts {
		for s := 1; s <= 2*batches; s++ {
			line := fmt.Sprintf(": k%02d line %d\n", i, s)
			if n := strings.Count(l.Description+"\n", line); n != 1 {
				t.Errorf("%q is in the description %d times, want once", line, n)
			}
		}
	}
	if key := fmt.Sprintf("zendesksell:sell:lead:%d", leadID); locks.keys[key] != contacts*batches {
		t.Errorf("the nodes' locks were taken %v, want %s once per batch (%d)", locks.keys, key, contacts*batches)
	}
}
