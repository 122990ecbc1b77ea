package helpline_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/helplinehq/helpline"

// The package layout's dependency rules (ARCHITECTURE.md), enforced on the
// non-test imports of every package in the module.
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
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
		pkgs[p.ImportPath] = p.Imports
	}
	for _, want := range []string{module, module + "/chat", module + "/cmd/helpline", module + "/cmd/helpline-bench"} {
		if _, ok := pkgs[want]; !ok {
			t.Fatalf("go list did not list %s among %d packages; expected the whole module", want, len(pkgs))
		}
	}
	for _, v := range dependencyViolations(pkgs) {
		t.Error(v)
	}
}

// Each rule fails on a violation planted in a synthetic module.
func TestDependencyRulesCatchPlantedViolations(t *testing.T) {
	ours := func(rel string) string {
		if rel == "" {
			return module
		}
		return module + "/" + rel
	}
	for _, tc := range []struct {
		pkg     string // relative to the module root
		imports []string
		want    string // in the one violation expected; "" for none
	}{
		{"", []string{"strings", "net/http"}, ""},
		{"", []string{ours("chat")}, "the root package imports nothing of ours"},
		{"", []string{"gopkg.in/yaml.v3"}, "the root package imports only the standard library"},
		{"chat", []string{ours(""), ours("mirror"), "context"}, ""},
		{"chat", []string{ours("sqlite")}, "the engine packages import only the root and each other"},
		{"routing", []string{ours("connectapi")}, "the engine packages import only the root and each other"},
		{"sqlite", []string{ours(""), "modernc.org/sqlite"}, ""},
		{"sqlite", []string{ours("inmem")}, "stores and buses implement root interfaces and import none of ours"},
		{"blobfs", []string{ours("httpapi")}, "stores and buses implement root interfaces and import none of ours"},
		{"postgres", []string{ours(""), "github.com/jackc/pgx/v5/pgxpool"}, ""},
		{"postgres", []string{ours("sqlite")}, "stores and buses implement root interfaces and import none of ours"},
		{"postgres", []string{ours("inmem")}, "stores and buses implement root interfaces and import none of ours"},
		{"postgres", []string{"github.com/gorilla/websocket"}, "may use only these outside modules"},
		{"postgres/pgtest", []string{"github.com/jackc/pgx/v5", "testing"}, ""},
		{"postgres/pgtest", []string{ours("postgres")}, "fakes and test helpers import only the root and other test packages"},
		{"nats", []string{ours(""), "github.com/nats-io/nats.go", "encoding/json", "log/slog"}, ""},
		{"nats", []string{ours("inmem")}, "stores and buses implement root interfaces and import none of ours"},
		{"nats", []string{ours("connectapi")}, "stores and buses implement root interfaces and import none of ours"},
		{"nats", []string{"database/sql"}, "only stores use a SQL database"},
		{"nats", []string{"github.com/gorilla/websocket"}, "may use only these outside modules"},
		{"nats", []string{"github.com/jackc/pgx/v5"}, "buses use only their bus client"},
		{"inmem", []string{"modernc.org/sqlite"}, "buses use only their bus client"},
		{"sqlite", []string{"github.com/nats-io/nats.go"}, "stores use only their database client"},
		{"nats/natstest", []string{ours(""), "os/exec", "testing"}, ""},
		{"nats/natstest", []string{ours("nats")}, "fakes and test helpers import only the root and other test packages"},
		{"connector/zendesk", []string{ours(""), ours("connector/internal/outbound")}, ""},
		{"connector/zendesk", []string{ours("connector/webhook")}, "connectors import only the root and connector/internal"},
		{"connector/zendesk", []string{ours("sqlite")}, "connectors import only the root and connector/internal"},
		{"connector/internal/outbound", []string{ours("connector/internal/replay"), ours("")}, ""},
		{"connector/internal/outbound", []string{ours("connector/zendesk")}, "connector/internal imports only the root and itself"},
		{"httpapi", []string{ours(""), ours("connectapi")}, ""},
		{"connectapi", []string{ours("chat")}, "transports talk to the engine through root interfaces only"},
		{"storetest", []string{ours(""), "testing"}, ""},
		{"storetest", []string{ours("sqlite")}, "contract suites import only the root"},
		{"blobtest", []string{ours(""), "testing/iotest"}, ""},
		{"blobtest", []string{ours("blobfs")}, "contract suites import only the root"},
		{"clocktest", []string{"time"}, ""},
		{"mirror/mirrortest", []string{ours("clocktest"), "net/http/httptest"}, ""},
		{"connector/zendesk/zendesktest", []string{ours("connector/zendesk")}, "fakes and test helpers import only the root and other test packages"},
		{"internal/loadtest", []string{ours("sqlite")}, "fakes and test helpers import only the root and other test packages"},
		{"app", []string{ours("sqlite"), ours("connector/zendesk"), ours("chat")}, ""},
		{"cmd/helpline", []string{ours(""), ours("app"), "flag"}, ""},
		{"cmd/helpline", []string{ours("sqlite")}, "the product command wires the node through app only"},
		{"cmd/helpline", []string{ours("connector/zendesk")}, "the product command wires the node through app only"},
		{"cmd/helpline-bench", []string{ours("connector/zendesk/zendesktest"), ours("internal/loadtest"), "net/http/httptest"}, ""},
		// Production code never imports a …test package.
		{"cmd/helpline", []string{ours("connector/zendesk/zendesktest")}, "production code never imports a …test package"},
		{"cmd/helpline", []string{ours("internal/loadtest")}, "production code never imports a …test package"},
		{"app", []string{ours("storetest")}, "production code never imports a …test package"},
		{"connector/webhook", []string{ours("connector/webhook/webhooktest")}, "production code never imports a …test package"},
		{"chat", []string{ours("clocktest")}, "production code never imports a …test package"},
		{"httpapi", []string{"net/http/httptest"}, "production code never imports a …test package"},
		{"sqlite", []string{"internal/synctest"}, ""}, // the standard library's own, not a test helper
		// Outside modules, by group.
		{"mirror", []string{"github.com/prometheus/client_golang/prometheus", "net/http"}, ""},
		{"chat", []string{"github.com/gorilla/websocket"}, "may use only these outside modules"},
		{"chat", []string{"database/sql"}, "only stores use a SQL database"},
		{"chat", []string{"modernc.org/sqlite"}, "may use only these outside modules"},
		{"sqlite", []string{"database/sql", "modernc.org/sqlite"}, ""},
		{"inmem", []string{"github.com/gorilla/websocket"}, "may use only these outside modules"},
		{"connector/zendesk", []string{"golang.org/x/time/rate", "net/http"}, ""},
		{"connector/zendesk", []string{"modernc.org/sqlite"}, "may use only these outside modules"},
		{"connector/streamchat", []string{"github.com/golang-jwt/jwt/v5", "net/http"}, ""},
		{"connector/internal/outbound", []string{"github.com/golang-jwt/jwt/v5"}, "may use only these outside modules"},
		{"chat", []string{"github.com/golang-jwt/jwt/v5"}, "may use only these outside modules"},
		{"connectapi", []string{"github.com/gobwas/ws", "golang.org/x/sys/unix", "github.com/aws/aws-sdk-go-v2/aws/signer/v4", "github.com/go-json-experiment/json/jsontext"}, ""},
		{"connectapi", []string{"database/sql"}, "only stores use a SQL database"},
		{"httpapi", []string{"github.com/nats-io/nats.go"}, "may use only these outside modules"},
		{"httpapi", []string{"github.com/golang-jwt/jwt/v5", "golang.org/x/time/rate"}, ""},
		{"httpapi", []string{"github.com/gobwas/ws/wsutil"}, ""},
		{"httpapi", []string{"github.com/gorilla/websocket"}, "may use only these outside modules"},
		{"app", []string{"gopkg.in/yaml.v3", "database/sql"}, ""},
		// A package in no group fails.
		{"util", []string{"strings"}, "in no group of the layout"},
		{"internal/pool", nil, "in no group of the layout"},
		{"connector", nil, "in no group of the layout"},
		{"footest", nil, "in no group of the layout"},
		{"internal/loadtest/more", nil, "in no group of the layout"},
	} {
		got := dependencyViolations(map[string][]string{ours(tc.pkg): tc.imports})
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%q importing %q: unexpected violations %q", tc.pkg, tc.imports, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("%q importing %q: violations %q, want one saying %q", tc.pkg, tc.imports, got, tc.want)
		}
	}

	for _, tc := range []struct {
		dep  string
		want bool
	}{
		{module + "/sqlite", false},
		{"github.com/aws/aws-sdk-go-v2/aws/signer/v4", false},
		{"internal/synctest", false},
		{"github.com/aws/aws-sdk-go-v2/service/connect", true},
		{"github.com/aws/aws-sdk-go-v2/service/connect/types", true},
		{module + "/connector/zendesk/zendesktest", true},
		{module + "/internal/loadtest", true},
		{"net/http/httptest", true},
	} {
		if got := unshippable(tc.dep) != ""; got != tc.want {
			t.Errorf("unshippable(%q) = %v, want %v", tc.dep, got, tc.want)
		}
	}
}

// The binary users deploy links neither the load command's Connect client
// nor any fake or test helper (they belong to cmd/helpline-bench and the
// tests).
func TestDependencyRulesProductBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/helpline").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"/cmd/helpline") || !slices.Contains(deps, module+"/sqlite") {
		t.Fatalf("go list -deps ./cmd/helpline listed %d packages without the command or its store", len(deps))
	}
	for _, dep := range deps {
		if why := unshippable(dep); why != "" {
			t.Errorf("the product binary links %s: %s", dep, why)
		}
	}
}

// dependencyViolations returns a sentence for every package of pkgs
// (import path → non-test imports) that is in no group of the layout and
// for every import that breaks a rule.
func dependencyViolations(pkgs map[string][]string) []string {
	var out []string
	for path, imports := range pkgs {
		rel, ok := relative(path)
		if !ok {
			continue
		}
		g := groupOf(rel)
		if g == "" {
			out = append(out, path+" is in no group of the layout: place it in one (ARCHITECTURE.md) and name it in deps_test.go")
			continue
		}
		for _, imp := range imports {
			if why := importRule(rel, g, imp); why != "" {
				out = append(out, path+" imports "+imp+": "+why)
			}
		}
	}
	slices.Sort(out)
	return out
}

// The groups of our packages.
const (
	groupRoot              = "root"
	groupEngine            = "engine"
	groupStore             = "store"
	groupConnector         = "connector"
	groupConnectorInternal = "connector internal"
	groupTransport         = "transport"
	groupContractSuite     = "contract suite"
	groupTestHelper        = "test helper"
	groupApp               = "app"
	groupCommand           = "command"
)

// groupOf returns the group of the package at rel (its path relative to
// the module root), or "" for none. A package belongs to the group of
// the folder it is in; a …test package is a test helper when it is
// nested in another group's folder (connector/zendesk/zendesktest,
// mirror/mirrortest) or named here.
func groupOf(rel string) string {
	switch {
	case rel == "":
		return groupRoot
	case rel == "storetest" || rel == "bustest" || rel == "blobtest":
		return groupContractSuite
	case rel == "clocktest" || rel == "internal/loadtest" || rel == "internal/zendeskfake":
		return groupTestHelper
	case endsInTest(rel):
		if i := strings.LastIndexByte(rel, '/'); i > 0 {
			if g := groupOf(rel[:i]); g != "" && g != groupTestHelper && g != groupContractSuite {
				return groupTestHelper
			}
		}
		return ""
	case under(rel, "chat", "routing", "bot", "mirror"):
		return groupEngine
	case under(rel, "sqlite", "postgres", "inmem", "nats", "blobfs"):
		return groupStore
	case under(rel, "connector/internal"):
		return groupConnectorInternal
	case strings.HasPrefix(rel, "connector/"):
		return groupConnector
	case under(rel, "connectapi", "httpapi", "web"):
		return groupTransport
	case under(rel, "app"):
		return groupApp
	case strings.HasPrefix(rel, "cmd/"):
		return groupCommand
	}
	return ""
}

// importRule says which rule the package at rel, of group g, breaks by
// importing imp, or "" for none.
func importRule(rel, g, imp string) string {
	test := g == groupTestHelper || g == groupContractSuite
	if isTestPackage(imp) && !test && rel != "cmd/helpline-bench" {
		return "production code never imports a …test package (only _test.go files and cmd/helpline-bench do)"
	}
	dep, ours := relative(imp)
	if g == groupRoot {
		switch {
		case ours:
			return "the root package imports nothing of ours"
		case strings.Contains(strings.Split(imp, "/")[0], "."):
			return "the root package imports only the standard library"
		}
		return ""
	}
	if !ours {
		if r := clientRule(rel, g, imp); r != "" {
			return r
		}
		return outsideRule(g, imp)
	}
	if dep == "" {
		return "" // the root is open to the rest
	}
	switch g {
	case groupEngine:
		if groupOf(dep) != groupEngine {
			return "the engine packages import only the root and each other"
		}
	case groupStore:
		return "stores and buses implement root interfaces and import none of ours"
	case groupConnector:
		if groupOf(dep) != groupConnectorInternal {
			return "connectors import only the root and connector/internal"
		}
	case groupConnectorInternal:
		if groupOf(dep) != groupConnectorInternal {
			return "connector/internal imports only the root and itself"
		}
	case groupTransport:
		if groupOf(dep) != groupTransport {
			return "transports talk to the engine through root interfaces only"
		}
	case groupContractSuite:
		return "contract suites import only the root"
	case groupTestHelper:
		if !isTestPackage(imp) {
			return "fakes and test helpers import only the root and other test packages"
		}
	case groupCommand:
		if rel == "cmd/helpline" && dep != "app" {
			return "the product command wires the node through app only"
		}
	}
	return ""
}

// outsideModules lists, for the groups whose outside imports are limited,
// the modules (by path prefix) they may use beyond the standard library:
// the engine keeps to its logic and metrics, stores to their database or
// bus client, connectors to HTTP, transports to their wire. The app,
// commands, contract suites and test helpers may use any.
var outsideModules = map[string][]string{
	groupEngine:            {"github.com/prometheus/client_golang/", "golang.org/x/time/", "golang.org/x/crypto/"},
	groupStore:             {"modernc.org/sqlite", "github.com/jackc/pgx/", "github.com/nats-io/nats.go"},
	groupConnector:         {"golang.org/x/time/", "github.com/golang-jwt/jwt/v5"},
	groupConnectorInternal: {"golang.org/x/time/"},
	groupTransport:         {"github.com/aws/aws-sdk-go-v2/", "github.com/go-json-experiment/json", "github.com/gobwas/ws", "golang.org/x/sys/", "golang.org/x/time/", "golang.org/x/crypto/", "github.com/golang-jwt/jwt/v5"},
}

// outsideRule says which rule a package of group g breaks by importing
// imp, a package of the standard library or of another module, or "".
func outsideRule(g, imp string) string {
	allowed, limited := outsideModules[g]
	if !limited {
		return ""
	}
	if !strings.Contains(strings.Split(imp, "/")[0], ".") {
		if imp == "database/sql" && g != groupStore {
			return "only stores use a SQL database"
		}
		return ""
	}
	for _, prefix := range allowed {
		if strings.HasPrefix(imp, prefix) || imp+"/" == prefix {
			return ""
		}
	}
	return "the " + g + " group may use only these outside modules: " + strings.Join(allowed, ", ")
}

// clientRule keeps the store group's packages to their own client: the
// buses (inmem, nats) to the bus client, with no SQL, and the stores to
// their database's.
func clientRule(rel, g, imp string) string {
	if g != groupStore {
		return ""
	}
	bus := under(rel, "inmem", "nats")
	switch {
	case bus && imp == "database/sql":
		return "only stores use a SQL database"
	case bus && (strings.HasPrefix(imp, "modernc.org/sqlite") || strings.HasPrefix(imp, "github.com/jackc/pgx/")):
		return "buses use only their bus client"
	case !bus && strings.HasPrefix(imp, "github.com/nats-io/"):
		return "stores use only their database client"
	}
	return ""
}

// unshippable says why the product binary must not link the package at
// path, or returns "".
func unshippable(path string) string {
	const connectClient = "github.com/aws/aws-sdk-go-v2/service/connect"
	switch {
	case path == connectClient || strings.HasPrefix(path, connectClient+"/"):
		return "the AWS SDK's Connect client is the load command's and the tests'"
	case isTestPackage(path):
		return "fakes and test helpers never ship"
	}
	return ""
}

// isTestPackage reports whether the package at the import path is a
// …test package: a fake, contract suite or test helper, such as
// connector/zendesk/zendesktest or net/http/httptest. The standard
// library's internal packages (its runtime's internal/synctest) are not.
func isTestPackage(path string) bool {
	return endsInTest(path) && !strings.HasPrefix(path, "internal/")
}

// endsInTest reports whether the last element of path ends in "test".
func endsInTest(path string) bool {
	return strings.HasSuffix(path[strings.LastIndexByte(path, '/')+1:], "test")
}

// relative returns path relative to the module root and whether it is
// ours.
func relative(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// under reports whether rel is one of dirs or inside one.
func under(rel string, dirs ...string) bool {
	for _, d := range dirs {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}
