# execvault build, test and demo targets. Only Go and make are assumed;
# other tools the targets need are installed by the 'tools' target.

GO        ?= go
BIN       := bin
EXECVAULT := $(BIN)/execvault
PLUGINS   := $(BIN)/plugins
WASM_ENV  := GOOS=wasip1 GOARCH=wasm
GO_EXAMPLES := notify-external-service sync-to-external-crm

TS_EXAMPLES := notify-external-service sync-to-external-crm
TS_PLUGINS  := $(BIN)/ts-plugins

.PHONY: all build plugins js-engine ts-plugins demo test bench vet tools wat clean

all: build plugins

build:
	$(GO) build -o $(EXECVAULT) ./cmd/execvault

# Go example executors, each built as a WASI reactor.
plugins:
	@mkdir -p $(PLUGINS)
	@for p in $(GO_EXAMPLES); do \
		echo "build $(PLUGINS)/$$p.wasm"; \
		$(WASM_ENV) $(GO) build -buildmode=c-shared -o $(PLUGINS)/$$p.wasm ./plugins/examples/$$p || exit 1; \
	done

# The JavaScript engine guest shared by every TypeScript executor.
js-engine:
	@mkdir -p $(BIN)
	$(WASM_ENV) $(GO) build -trimpath -buildmode=c-shared -o $(BIN)/execvault-js-engine.wasm ./plugins/jsengine

# The platform's TypeScript executor files, unmodified, each bundled with
# the engine. The CLI finds the engine beside its own binary.
ts-plugins: build js-engine
	@mkdir -p $(TS_PLUGINS)
	@for p in $(TS_EXAMPLES); do \
		$(EXECVAULT) plugin build plugins/examples/ts/$$p.ts -o $(TS_PLUGINS)/$$p.wasm || exit 1; \
	done

# The main job on built-in sample data: no setup, throw-away data directory
# and key, a local receiver, then a check of what it received.
demo: build plugins ts-plugins
	$(GO) run ./cmd/execvault-demo -execvault $(EXECVAULT) -plugins $(PLUGINS) -ts-plugins $(TS_PLUGINS) -events testdata/events/orders.jsonl

# wat2wasm (Debian's wabt) rebuilds the WebAssembly-text guests; the built
# modules are committed, and a test checks they match their sources.
tools:
	@command -v wat2wasm >/dev/null 2>&1 || { \
		echo "install wabt (wat2wasm)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wabt >/dev/null; \
	}

wat: tools
	@for f in $$(find plugins/examples testdata -name '*.wat'); do \
		echo "wat2wasm $$f"; wat2wasm "$$f" -o "$${f%.wat}.wasm" || exit 1; \
	done

# staticcheck comes through the Go module proxy on first use, at a pinned
# version, so that its findings do not change under an unchanged tree.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

test: tools vet
	$(GO) test -race -timeout 14m ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

clean:
	rm -rf $(BIN)
