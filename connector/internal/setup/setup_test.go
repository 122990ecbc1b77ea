package setup_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/setup"
)

type settings struct{ BaseURL, Account, KeyEnv, HookEnv string }

func TestSection(t *testing.T) {
	env := map[string]string{"KEY": "k-1"}
	read := func(name string, s settings, decodeErr error) (*setup.Section, error) {
		var got settings
		return setup.Read("acme", helpline.ConnectorConfig{
			Name:   name,
			Decode: func(v any) error { *v.(*settings) = s; return decodeErr },
			Getenv: func(k string) string { return env[k] },
		}, &got)
	}
	if _, err := read("", settings{}, nil); err == nil || err.Error() != `acme connector "": a name is required` {
		t.Errorf("no name: %v", err)
	}
	if _, err := read("a", settings{}, errors.New("line 3: field bogus not found")); err == nil || !strings.Contains(err.Error(), `acme connector "a": line 3`) {
		t.Errorf("decode error: %v", err)
	}
	sec, err := read("a", settings{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ base, account, want, err string }{
		{"", "shop", "https://shop.example.com", ""},
		{"http://127.0.0.1:9/x", "", "http://127.0.0.1:9/x", ""},
		{"", "", "", `acme connector "a": set account or base_url`},
		{"ftp://x", "", "", `base_url "ftp://x" is not an http(s) URL`},
		{"/relative", "", "", "is not an http(s) URL"},
	} {
		got, err := sec.BaseURL(tc.base, "account", tc.account, "https://%s.example.com")
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("BaseURL(%q, %q) = %q, %v; want %q, %q", tc.base, tc.account, got, err, tc.want, tc.err)
		}
	}
	if v, err := sec.Secret("api_key_env", "KEY", "the API key"); v != "k-1" || err != nil {
		t.Errorf("Secret = %q, %v", v, err)
	}
	if _, err := sec.Secret("api_key_env", "", "the API key"); err == nil || !strings.Contains(err.Error(), "api_key_env must name the environment variable holding the API key") {
		t.Errorf("Secret without a variable: %v", err)
	}
	if _, err := sec.Secret("api_key_env", "UNSET", "the API key"); err == nil || !strings.Contains(err.Error(), "environment variable UNSET (api_key_env) is empty") {
		t.Errorf("Secret of an empty variable: %v", err)
	}
	if v, err := sec.OptionalSecret("webhook_secret_env", ""); v != "" || err != nil {
		t.Errorf("OptionalSecret absent = %q, %v", v, err)
	}
	if _, err := sec.OptionalSecret("webhook_secret_env", "UNSET"); err == nil {
		t.Error("OptionalSecret of an empty variable: no error")
	}
}
