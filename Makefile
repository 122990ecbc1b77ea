# Helpline: the two commands of the README, and their parts.
#
#   make test   every test: Go vet and tests, then the official npm clients and
#               chatjs in headless Chromium against a real server
#   make run    run the server (embedded SQLite in ./helpline-data)

GO ?= go
GOTESTFLAGS ?= -timeout 15m
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
