package zendesk_test

import (
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/zendesk"
)

// linker builds a connector from set, as the configuration does.
func linker(t *testing.T, set zendesk.Settings) helpline.TicketLinker {
	t.Helper()
	conn, err := helpline.NewConnector("zendesk", helpline.ConnectorConfig{Name: "zendesk",
		Decode: func(v any) error { *v.(*zendesk.Settings) = set; return nil },
		Getenv: func(string) string { return "secret" }})
	if err != nil {
		t.Fatal(err)
	}
	return conn.(helpline.TicketLinker)
}

// A ticket's link is its page in the agent interface, under the account's
// address (the subdomain's, or base_url); refs without a ticket have none.
func TestTicketURL(t *testing.T) {
	for _, tc := range []struct {
		set  zendesk.Settings
		refs map[string]string
		want string
	}{
		{zendesk.Settings{Subdomain: "acme"}, map[string]string{zendesk.RefTicketID: "42"}, "https://acme.zendesk.com/agent/tickets/42"},
		{zendesk.Settings{BaseURL: "http://127.0.0.1:9/"}, map[string]string{zendesk.RefTicketID: "7", zendesk.RefRequesterID: "1"}, "http://127.0.0.1:9/agent/tickets/7"},
		{zendesk.Settings{Subdomain: "acme"}, map[string]string{zendesk.RefTicketID: "../x?y"}, "https://acme.zendesk.com/agent/tickets/..%2Fx%3Fy"},
		{zendesk.Settings{Subdomain: "acme"}, map[string]string{zendesk.RefRequesterID: "1"}, ""},
	} {
		tc.set.Email, tc.set.TokenEnv = "bot@example.com", "ZENDESK_TOKEN"
		if got := linker(t, tc.set).TicketURL(tc.refs); got != tc.want {
			t.Errorf("TicketURL(%v) with %+v = %q, want %q", tc.refs, tc.set, got, tc.want)
		}
	}
}
