package chat_test

import (
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/chat"
)

// transcriptEnv starts a chat with 25 stored items, Seq 1..25, one second
// apart (Seq n at base+n s), plus a typing event that must never appear.
func transcriptEnv(t *testing.T) (*env, *helpline.Session, []*helpline.Item, time.Time) {
	e := newEnv(t)
	base := e.clock.Now()
	e.clock.Advance(time.Second)
	_, customer := e.start(t, helpline.StartChatInput{})
	for range 24 {
		e.clock.Advance(time.Second)
		e.send(t, customer, "m")
	}
	if _, err := e.svc.SendEvent(ctx, customer, helpline.EventTyping, "", ""); err != nil {
		t.Fatal(err)
	}
	all := e.items(t, customer.Contact.ID)
	if len(all) != 25 {
		t.Fatalf("setup stored %d items", len(all))
	}
	return e, customer, all, base
}

func seqs(items []*helpline.Item) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it.Seq)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	step := int64(1)
	if from > to {
		step = -1
	}
	for s := from; ; s += step {
		out = append(out, s)
		if s == to {
			return out
		}
	}
}

func TestTranscript(t *testing.T) {
	e, customer, all, base := transcriptEnv(t)
	at := func(seq int64) time.Time { return base.Add(time.Duration(seq) * time.Second) }
	tests := []struct {
		name     string
		q        helpline.TranscriptQuery
		want     []int64
		wantNext bool
	}{
		{"defaults: newest 10, descending", helpline.TranscriptQuery{}, span(25, 16), true},
		{"ascending", helpline.TranscriptQuery{SortOrder: chat.SortAscending}, span(16, 25), true},
		{"forward from the oldest", helpline.TranscriptQuery{ScanDirection: chat.ScanForward, SortOrder: chat.SortAscending}, span(1, 10), true},
		{"forward, descending page", helpline.TranscriptQuery{ScanDirection: chat.ScanForward}, span(10, 1), true},
		{"everything", helpline.TranscriptQuery{MaxResults: 100, SortOrder: chat.SortAscending}, span(1, 25), false},
		{"Id anchor scans forward by default", helpline.TranscriptQuery{StartID: all[19].ID, SortOrder: chat.SortAscending}, span(20, 25), false},
		{"Id anchor backward", helpline.TranscriptQuery{StartID: all[4].ID, ScanDirection: chat.ScanBackward, MaxResults: 3}, span(5, 3), true},
		{"Id anchor backward to the start", helpline.TranscriptQuery{StartID: all[4].ID, ScanDirection: chat.ScanBackward}, span(5, 1), false},
		{"time anchor forward", helpline.TranscriptQuery{StartTime: at(21).Add(-500 * time.Millisecond), SortOrder: chat.SortAscending}, span(21, 25), false},
		{"time anchor exact", helpline.TranscriptQuery{StartTime: at(21), SortOrder: chat.SortAscending}, span(21, 25), false},
		{"time anchor backward", helpline.TranscriptQuery{StartTime: at(3).Add(500 * time.Millisecond), ScanDirection: chat.ScanBackward}, span(3, 1), false},
		{"most recent 5", helpline.TranscriptQuery{MostRecent: 5, SortOrder: chat.SortAscending}, span(21, 25), false},
		{"most recent 5 backward", helpline.TranscriptQuery{MostRecent: 5, ScanDirection: chat.ScanBackward, MaxResults: 4}, span(21, 18), true},
		{"most recent beyond the transcript", helpline.TranscriptQuery{MostRecent: 100, MaxResults: 100, SortOrder: chat.SortAscending}, span(1, 25), false},
		{"own contact id", helpline.TranscriptQuery{ContactID: customer.Contact.ID, MaxResults: 1}, []int64{25}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := e.svc.Transcript(ctx, customer, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(page.Items); !equal(got, tt.want) {
				t.Errorf("Seqs = %v, want %v", got, tt.want)
			}
			if (page.NextToken != "") != tt.wantNext {
				t.Errorf("NextToken = %q, want one: %v", page.NextToken, tt.wantNext)
			}
			if page.InitialContactID != customer.Contact.InitialContactID {
				t.Errorf("InitialContactID = %q", page.InitialContactID)
			}
		})
	}
}

// TestTranscriptPages walks the whole transcript page by page in both
// directions, as the Go paginator and chatjs do.
func TestTranscriptPages(t *testing.T) {
	e, customer, _, _ := transcriptEnv(t)
	for _, tt := range []struct {
		name string
		q    helpline.TranscriptQuery
		want []int64
	}{
		{"backward", helpline.TranscriptQuery{MaxResults: 7, ScanDirection: chat.ScanBackward, SortOrder: chat.SortAscending}, span(25, 1)},
		{"forward", helpline.TranscriptQuery{MaxResults: 7, ScanDirection: chat.ScanForward, SortOrder: chat.SortDescending}, span(1, 25)},
		{"forward from an anchor", helpline.TranscriptQuery{MaxResults: 4, MostRecent: 10}, span(16, 25)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			q := tt.q
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				page, err := e.svc.Transcript(ctx, customer, q)
				if err != nil {
					t.Fatal(err)
				}
				// Collect in scan order whatever the sort order.
				ps := seqs(page.Items)
				if len(ps) > 1 && (ps[0] < ps[1]) != (tt.want[0] < tt.want[1]) {
					for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
						ps[i], ps[j] = ps[j], ps[i]
					}
				}
				got = append(got, ps...)
				if page.NextToken == "" {
					break
				}
				q.NextToken = page.NextToken
			}
			if !equal(got, tt.want) {
				t.Errorf("walked %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTranscriptErrors(t *testing.T) {
	e, customer, _, _ := transcriptEnv(t)
	page, err := e.svc.Transcript(ctx, customer, helpline.TranscriptQuery{MaxResults: 2})
	if err != nil || page.NextToken == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	_, other := e.start(t, helpline.StartChatInput{})
	e.send(t, other, "a")
	e.send(t, other, "b")
	otherPage, err := e.svc.Transcript(ctx, other, helpline.TranscriptQuery{MaxResults: 1})
	if err != nil || otherPage.NextToken == "" {
		t.Fatalf("other chat's page: %+v, %v", otherPage, err)
	}
	tok := page.NextToken
	tests := []struct {
		name string
		q    helpline.TranscriptQuery
	}{
		{"MaxResults above 100", helpline.TranscriptQuery{MaxResults: 101}},
		{"negative MaxResults", helpline.TranscriptQuery{MaxResults: -1}},
		{"bad sort order", helpline.TranscriptQuery{SortOrder: "UP"}},
		{"bad direction", helpline.TranscriptQuery{ScanDirection: "SIDEWAYS"}},
		{"MostRecent above 100", helpline.TranscriptQuery{MostRecent: 101}},
		{"two anchors", helpline.TranscriptQuery{MostRecent: 2, StartTime: e.clock.Now()}},
		{"unknown start id", helpline.TranscriptQuery{StartID: "nope"}},
		{"another contact", helpline.TranscriptQuery{ContactID: other.Contact.ID}},
		{"tampered token", helpline.TranscriptQuery{NextToken: tok[:len(tok)-3] + "abc"}},
		{"garbage token", helpline.TranscriptQuery{NextToken: "garbage"}},
		{"participant token as page token", helpline.TranscriptQuery{NextToken: testTokens.Sign(helpline.ParticipantToken, customer.Participant.ID, e.clock.Now().Add(time.Hour))}},
		{"malformed page token", helpline.TranscriptQuery{NextToken: testTokens.Sign(helpline.PageToken, "b5", e.clock.Now().Add(time.Hour))}},
		{"token of another contact", helpline.TranscriptQuery{NextToken: otherPage.NextToken}},
		{"token for the other direction", helpline.TranscriptQuery{NextToken: tok, ScanDirection: chat.ScanForward}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Transcript(ctx, customer, tt.q)
			wantCode(t, err, helpline.EINVALID)
		})
	}
	// The token works for a day.
	e.clock.Advance(23 * time.Hour)
	if _, err := e.svc.Transcript(ctx, customer, helpline.TranscriptQuery{NextToken: tok}); err != nil {
		t.Errorf("token after 23h: %v", err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.svc.Transcript(ctx, customer, helpline.TranscriptQuery{NextToken: tok})
	wantCode(t, err, helpline.EINVALID)
}
