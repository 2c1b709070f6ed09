# cdxs: the two set-up commands are `make demo` and `make test`.
CARGO ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: build test lint fmt schema bench demo codex-cli postgres clean

build:
	$(CARGO) build

# The real Codex CLI (pinned) that the integration tests use as their oracle.
codex-cli:
	scripts/install-codex.sh

# PostgreSQL binaries for the sync tests (each test starts and removes its own cluster).
postgres:
	scripts/install-postgres.sh

# The whole suite, as CI runs it (.ci/run calls exactly this): lint, then every test
# (unit, integration, real Codex, the sync server on SQLite and PostgreSQL).
test: codex-cli postgres lint
ifeq ($(NEXTEST),yes)
	CI=$${CI:-1} $(CARGO) nextest run --no-fail-fast
else
	CI=$${CI:-1} $(CARGO) test --no-fail-fast
endif

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

schema:
	$(CARGO) run --quiet -- schema > schema/cdxs.schema.json

bench:
	scripts/bench.sh
	scripts/bench-sync.sh

# A sandboxed tour on an embedded default: temporary homes and state, no network.
demo: build
	scripts/demo.sh

clean:
	$(CARGO) clean
