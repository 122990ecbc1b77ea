// Package setup reads a connector kind's configuration section the same
// way for every kind: the section decoded strictly, every error naming
// the kind and the connector, the account's API base URL, and the
// secrets the section names by environment variable.
package setup

import (
	"fmt"
	"net/url"

	"github.com/helplinehq/helpline"
)

// Section is a connector's configuration section being read.
type Section struct {
	kind, name string
	getenv     func(string) string
}

// Read decodes cfg's section into v, a pointer to the kind's settings,
// and returns the section for the checks that follow. A connector needs
// a name.
func Read(kind string, cfg helpline.ConnectorConfig, v any) (*Section, error) {
	s := &Section{kind: kind, name: cfg.Name, getenv: cfg.Getenv}
	if s.getenv == nil {
		s.getenv = func(string) string { return "" }
	}
	if cfg.Decode != nil {
		if err := cfg.Decode(v); err != nil {
			return nil, fmt.Errorf("%s connector %q: %w", kind, cfg.Name, err)
		}
	}
	if cfg.Name == "" {
		return nil, s.Errorf("a name is required")
	}
	return s, nil
}

// Errorf returns an error that names the kind and the connector.
func (s *Section) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s connector %q: "+format, append([]any{s.kind, s.name}, args...)...)
}

// BaseURL returns baseURL, or, when it is empty, template (such as
// "https://%s.zendesk.com") filled with account, the setting accountKey
// names. Either must be set, and the result must be an absolute http(s)
// URL.
func (s *Section) BaseURL(baseURL, accountKey, account, template string) (string, error) {
	if baseURL == "" {
		if account == "" {
			return "", s.Errorf("set %s or base_url", accountKey)
		}
		baseURL = fmt.Sprintf(template, account)
	}
	if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", s.Errorf("base_url %q is not an http(s) URL", baseURL)
	}
	return baseURL, nil
}

// Secret returns the value of the environment variable env, which the
// setting key names and which must hold what (such as "the API key").
func (s *Section) Secret(key, env, what string) (string, error) {
	if env == "" {
		return "", s.Errorf("%s must name the environment variable holding %s", key, what)
	}
	return s.OptionalSecret(key, env)
}

// OptionalSecret returns the value of the environment variable env that
// the setting key names, or "" when the setting is absent; a variable
// named but empty is an error.
func (s *Section) OptionalSecret(key, env string) (string, error) {
	if env == "" {
		return "", nil
	}
	v := s.getenv(env)
	if v == "" {
		return "", s.Errorf("environment variable %s (%s) is empty", env, key)
	}
	return v, nil
}
