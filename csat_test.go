package helpline_test

import (
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestParseCSAT(t *testing.T) {
	for answer, want := range map[string]int{"1": 1, " 5\n": 5, "3": 3} {
		if got, ok := helpline.ParseCSAT(answer); !ok || got != want {
			t.Errorf("ParseCSAT(%q) = %d, %v; want %d", answer, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0", "6", "7", "10", "-1", "great", "4 stars", "3.5", "５"} {
		if got, ok := helpline.ParseCSAT(bad); ok {
			t.Errorf("ParseCSAT(%q) = %d, want no rating", bad, got)
		}
	}
}

func TestCSATDefaults(t *testing.T) {
	var none *helpline.CSAT
	d := none.WithDefaults()
	if d.Question != helpline.DefaultCSATQuestion || d.Thanks != helpline.DefaultCSATThanks || d.Wait != 2*time.Minute {
		t.Errorf("defaults %+v", d)
	}
	own := (&helpline.CSAT{Question: "Rate us?", Wait: time.Minute}).WithDefaults()
	if own.Question != "Rate us?" || own.Thanks != helpline.DefaultCSATThanks || own.Wait != time.Minute {
		t.Errorf("a flow's own question with defaults: %+v", own)
	}
}

// A rating and the question itself read as lines in a helpdesk.
func TestTranscriptLineCSAT(t *testing.T) {
	at := time.Date(2025, 3, 4, 10, 42, 7, 0, time.UTC)
	rating := &helpline.Item{Type: helpline.ItemEvent, ContentType: helpline.EventCSAT, Content: `{"rating":4,"owner":"agent:ada"}`, Time: at}
	if line, ok := helpline.TranscriptLine(rating, "System", helpline.RoleSystem); !ok || line != "[10:42:07] The customer rated the chat 4 of 5" {
		t.Errorf("rating line %q, %v", line, ok)
	}
	q := &helpline.Item{Type: helpline.ItemMessage, ContentType: helpline.ContentInteractive, Time: at,
		Content: `{"templateType":"QuickReply","version":"1.0","data":{"content":{"title":"Rate us?","elements":[{"title":"1"},{"title":"2"}]}}}`}
	if line, ok := helpline.TranscriptLine(q, "Bot", helpline.RoleBot); !ok || line != "[10:42:07] Bot (bot): Rate us? [1 | 2]" {
		t.Errorf("question line %q, %v", line, ok)
	}
	odd := &helpline.Item{Type: helpline.ItemMessage, ContentType: helpline.ContentInteractive, Content: `{"templateType":"Panel"}`, Time: at}
	if line, _ := helpline.TranscriptLine(odd, "Bot", helpline.RoleBot); line != `[10:42:07] Bot (bot): {"templateType":"Panel"}` {
		t.Errorf("an interactive message with no title: %q, want its content as it is", line)
	}
	if _, ok := helpline.TranscriptLine(&helpline.Item{Type: helpline.ItemEvent, ContentType: helpline.EventCSAT, Content: "{", Time: at}, "", ""); ok {
		t.Error("a rating that is not JSON made a line")
	}
}
