package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Negative limits are refused.
func TestLoadRejectsBadHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	for i, body := range []string{
		"http:\n  read_body_timeout: -1s\n",
		"http:\n  idle_timeout: -1s\n",
		"http:\n  max_connections: -1\n",
		"http:\n  max_connections_per_ip: -1\n",
		"http:\n  min_upload_rate: 0\n",
		"http:\n  per_ip_exempt: [localhost]\n",
	} {
		path := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), "http:") {
			t.Errorf("%q: err = %v, want an http: config error", body, err)
		}
	}
}
