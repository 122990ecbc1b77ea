package freshdesk_test

import (
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/freshdesk"
)

// linker builds a connector from set, as the configuration does.
func linker(t *testing.T, set freshdesk.Settings) helpline.TicketLinker {
	t.Helper()
	conn, err := helpline.NewConnector("freshdesk", helpline.ConnectorConfig{Name: "freshdesk",
		Decode: func(v any) error { *v.(*freshdesk.Settings) = set; return nil },
		Getenv: func(string) string { return "secret" }})
	if err != nil {
		t.Fatal(err)
	}
	return conn.(helpline.TicketLinker)
}

// A ticket's link is its page in the agent portal, under the account's
// address (the domain's, or base_url); refs without a ticket have none.
func TestTicketURL(t *testing.T) {
	for _, tc := range []struct {
		set  freshdesk.Settings
		refs map[string]string
		want string
	}{
		{freshdesk.Settings{Domain: "acme"}, map[string]string{freshdesk.RefTicketID: "42"}, "https://acme.freshdesk.com/a/tickets/42"},
		{freshdesk.Settings{BaseURL: "https://support.example.com"}, map[string]string{freshdesk.RefTicketID: "7"}, "https://support.example.com/a/tickets/7"},
		{freshdesk.Settings{Domain: "acme"}, map[string]string{freshdesk.RefRequesterID: "1"}, ""},
	} {
		tc.set.APIKeyEnv = "FRESHDESK_KEY"
		if got := linker(t, tc.set).TicketURL(tc.refs); got != tc.want {
			t.Errorf("TicketURL(%v) with %+v = %q, want %q", tc.refs, tc.set, got, tc.want)
		}
	}
}
