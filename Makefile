# Helpline: the two commands of the README, and their parts.
#
#   make test   every test: Go vet and tests, then the official npm clients and
#               chatjs in headless Chromium against a real server
#   make run    run the server (embedded SQLite in ./helpline-data)
#
# Optional services are tested when their variables are set, e.g.
#   HELPLINE_TEST_POSTGRES=postgres://...  HELPLINE_TEST_NATS=nats://...

GO ?= go
# One package at a time: cmd/helpline's end-to-end tests (crash, 200 × 50
# concurrency) run real servers against fakes with real-time pacing, and
# share the machine's cores badly with other packages' tests.
GOTESTFLAGS ?= -timeout 15m -p 1
NPM ?= npm

.PHONY: test test-deps vet test-go test-compat run

test: test-deps vet test-go test-compat

test-deps:
	scripts/test-deps.sh

vet:
	$(GO) vet ./...

test-go:
	$(GO) test $(GOTESTFLAGS) ./...

test-compat:
	$(NPM) test --prefix compat

run:
	$(GO) run ./cmd/helpline serve
