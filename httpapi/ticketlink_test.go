package httpapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/httpapi"
)

// linker links to the URL its refs' "url" holds, whatever it is.
type linker string

func (l linker) Name() string                            { return string(l) }
func (l linker) TicketURL(refs map[string]string) string { return refs["url"] }

// A linked ticket carries the URL its connector gives, when that is an
// http or https URL; a connector that links nothing gives none.
func TestChatTicketURL(t *testing.T) {
	e := newChatEnv(t, func(cfg *httpapi.AgentConfig) {
		cfg.TicketLinks = map[string]helpline.TicketLinker{"desk": linker("desk"), "bad": linker("bad"), "ftp": linker("ftp")}
	})
	ctx := context.Background()
	c := e.assign(e.startChat("i1"), "ada")
	refs := map[string]string{
		"desk":  "https://acme.zendesk.com/agent/tickets/7",
		"bad":   "javascript:alert(1)",
		"ftp":   "ftp://files.example.com/7",
		"plain": "https://not.asked.example.com/",
	}
	names := []string{"bad", "desk", "ftp", "plain"}
	now := time.Now()
	if err := e.store.CreateMirrorPairs(ctx, c.ID, names, now); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		pairs, err := e.store.ClaimMirrorPairs(ctx, n, c.ID, "test", now, time.Minute, 1)
		if err != nil || len(pairs) != 1 {
			t.Fatalf("claiming %s: %v %v", n, pairs, err)
		}
		pairs[0].Refs = map[string]string{"ticket_id": "7", "url": refs[n]}
		if err := e.store.SaveMirrorPair(ctx, pairs[0], "test", now); err != nil {
			t.Fatal(err)
		}
	}
	ans := e.do("GET", "/api/agent/chats/"+c.ID, "", e.creds["ada"])
	var out struct {
		Tickets []struct {
			Connector string `json:"connector"`
			URL       string `json:"url"`
		} `json:"tickets"`
	}
	if err := json.Unmarshal([]byte(ans.raw), &out); err != nil || ans.status != 200 {
		t.Fatalf("chat: %d %s", ans.status, ans.raw)
	}
	got := map[string]string{}
	for _, tk := range out.Tickets {
		got[tk.Connector] = tk.URL
	}
	want := map[string]string{"bad": "", "desk": "https://acme.zendesk.com/agent/tickets/7", "ftp": "", "plain": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticket urls = %v, want %v", got, want)
	}
}
