# credtrack — see README.md. Every target uses only the Go toolchain.
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build run demo test test-pg lint ci clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X credtrack.Version=$(VERSION)" -o bin/credtrack ./cmd/credtrack

run: demo
demo:
	go run ./cmd/credtrack demo

test:
	go test ./...

test-pg:
	CREDTRACK_TEST_POSTGRES_URL='$(PG_URL)' go test -race -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

ci:
	bash .ci/run

clean:
	rm -rf bin
