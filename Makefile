# Helpline: the two commands of the README, and their parts.
#
#   make test   every test: Go vet and tests, then the official npm clients and
#               chatjs in headless Chromium against a real server, then the
#               widget and console in headless Chromium
#   make run    run the server (embedded SQLite in ./helpline-data)
#   make web    rebuild the widget and console into web/dist (committed)

GO ?= go
GOTESTFLAGS ?= -timeout 15m
NPM ?= npm

.PHONY: test test-deps vet test-go test-compat web check-web test-web run

test: test-deps vet check-web test-go test-compat test-web

test-deps:
	scripts/test-deps.sh

vet:
	$(GO) vet ./...

test-go:
	$(GO) test $(GOTESTFLAGS) ./...

test-compat:
	$(NPM) test --prefix compat

web:
	$(NPM) run build --prefix web

# The built files are committed (go run needs no Node): fail when they are
# not what the sources build.
check-web: web
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		if [ -n "$$(git status --porcelain -- web/dist)" ]; then \
			git status --short -- web/dist; \
			echo "web/dist is stale: run make web and commit it"; exit 1; \
		fi; \
	else echo "check-web: not a git checkout; web/dist rebuilt but not compared"; fi

test-web:
	$(NPM) test --prefix web

run:
	$(GO) run ./cmd/helpline serve
