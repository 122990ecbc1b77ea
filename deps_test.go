package helpline_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The package layout's dependency rules (ARCHITECTURE.md), enforced on the
// non-test imports of every package in the module.
func TestDependencyRules(t *testing.T) {
	const mod = "github.com/helplinehq/helpline"
	out, err := exec.Command("go", "list", "-e", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// Groups of our packages, by path relative to the module root.
	engine := []string{"chat", "routing", "bot", "mirror"}
	stores := []string{"sqlite", "postgres", "inmem", "nats", "blobfs"}
	transports := []string{"connectapi", "httpapi", "web"}
	in := func(rel string, group []string) bool {
		for _, g := range group {
			if rel == g || strings.HasPrefix(rel, g+"/") {
				return true
			}
		}
		return false
	}
	isConnector := func(rel string) bool { return strings.HasPrefix(rel, "connector/") }
	// What every connector shares (the outbound HTTP policy, the inbound
	// replay guard); nothing outside connector/ may import it, which Go's
	// internal rule already enforces.
	isConnectorInternal := func(rel string) bool {
		return rel == "connector/internal" || strings.HasPrefix(rel, "connector/internal/")
	}

	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		for _, imp := range p.Imports {
			ours := imp == mod || strings.HasPrefix(imp, mod+"/")
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			var broken string
			switch {
			case rel == "":
				if strings.Contains(strings.Split(imp, "/")[0], ".") {
					broken = "the root package imports only the standard library"
				} else if ours {
					broken = "the root package imports nothing of ours"
				}
			case !ours || dep == "" || strings.HasPrefix(rel, "cmd/"):
				// The root and outside modules are open to all; cmd wires everything.
			case in(rel, engine):
				if !in(dep, engine) {
					broken = "the engine packages import only the root and each other"
				}
			case isConnectorInternal(rel):
				broken = "connector/internal imports only the root and outside modules"
			case isConnector(rel):
				if !isConnectorInternal(dep) {
					broken = "connectors implement root interfaces and import none of ours but connector/internal"
				}
			case in(rel, stores):
				broken = "stores and buses implement root interfaces and import none of ours"
			case in(rel, transports):
				if !in(dep, transports) {
					broken = "transports talk to the engine through root interfaces only"
				}
			case rel == "storetest" || rel == "bustest":
				broken = "contract suites import only the root"
			}
			if broken != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, broken)
			}
		}
	}
	if seen < 2 {
		t.Fatalf("go list found %d packages; expected the whole module", seen)
	}
}
