package kustomer_test

import (
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/kustomer"
)

// linker builds a connector from set, as the configuration does.
func linker(t *testing.T, set kustomer.Settings) helpline.TicketLinker {
	t.Helper()
	conn, err := helpline.NewConnector("kustomer", helpline.ConnectorConfig{Name: "kustomer",
		Decode: func(v any) error { *v.(*kustomer.Settings) = set; return nil },
		Getenv: func(string) string { return "secret" }})
	if err != nil {
		t.Fatal(err)
	}
	return conn.(helpline.TicketLinker)
}

// A conversation's link is its page in the agent app, whose address is
// the API's without "api."; another base_url is taken as the app's. Refs
// without both the customer and the conversation have none.
func TestTicketURL(t *testing.T) {
	refs := map[string]string{kustomer.RefCustomerID: "c1", kustomer.RefConversationID: "v9"}
	for _, tc := range []struct {
		set  kustomer.Settings
		refs map[string]string
		want string
	}{
		{kustomer.Settings{Org: "acme"}, refs, "https://acme.kustomerapp.com/app/customers/c1/event/v9"},
		{kustomer.Settings{BaseURL: "https://acme.api.kustomerapp.com/"}, refs, "https://acme.kustomerapp.com/app/customers/c1/event/v9"},
		{kustomer.Settings{BaseURL: "http://127.0.0.1:9"}, refs, "http://127.0.0.1:9/app/customers/c1/event/v9"},
		{kustomer.Settings{Org: "acme"}, map[string]string{kustomer.RefCustomerID: "c1"}, ""},
	} {
		tc.set.APIKeyEnv = "KUSTOMER_KEY"
		if got := linker(t, tc.set).TicketURL(tc.refs); got != tc.want {
			t.Errorf("TicketURL(%v) with %+v = %q, want %q", tc.refs, tc.set, got, tc.want)
		}
	}
}
