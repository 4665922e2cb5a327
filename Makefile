# Everyday targets. `make demo` and `make test` are the two a newcomer needs.

GO ?= go

.PHONY: demo test vet bench fuzz chaos build docker

## demo: run everything in one process (embedded Redis, simulated providers)
demo:
	$(GO) run ./cmd/worker --demo

## test: every test, with the race detector (miniredis, or the real Redis
## named by GENWATCH_TEST_REDIS_URL), the browser one included: the
## browser tag adds the dashboard test, which drives Chromium; that and
## redis-server (which the Sentinel and cluster tests start) are installed
## first, as root, when missing. Then the checks of the deployment files,
## a module of their own (deploy/, see docs/deploy.md)
test:
	scripts/ensure-tools.sh chromium=chromium redis-server=redis-server redis-cli=redis-tools
	$(GO) test -race -count=1 -tags browser ./...
	cd deploy && $(GO) test -race -count=1 ./...

## vet: formatting and static checks
vet:
	test -z "$$(gofmt -l .)"
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

## bench: the throughput benchmark on the local Redis (database 14)
bench:
	$(GO) run ./cmd/bench

## fuzz: every fuzz target for FUZZTIME each (default 10s)
fuzz:
	scripts/fuzz.sh

## chaos: thousands of generations, workers SIGKILLed, Redis restarted
## (a few minutes; see docs/reliability.md)
chaos:
	$(GO) test -tags chaos -run Chaos -v -timeout 30m ./test/chaos/

## build: static binaries in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...

## docker: the worker image
docker:
	docker build -t genwatch .
