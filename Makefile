# cdxs: the two set-up commands are `make demo` and `make test`.
CARGO ?= cargo
# bash: the fuzz recipe checks the exit status of the first command of a pipe.
SHELL := /bin/bash
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: build test lint fmt schema bench demo codex-cli postgres fuzz clean cross cross-tools cross-check cross-build test-cross test-windows dist-local installers

build:
	$(CARGO) build

# Every supported real Codex CLI release (pinned) that the integration tests use as their oracle.
codex-cli:
	scripts/install-codex.sh

# PostgreSQL binaries for the sync tests (each test starts and removes its own cluster).
postgres:
	scripts/install-postgres.sh

# The other platforms cdxs supports, from this Linux x86_64 machine: their tools (Debian's
# Rust with std built from source, mingw, aarch64 gcc, wine, qemu-user, zig; the real
# Codex for win32-x64 and linux-arm64), `cargo clippy --all-targets` for Windows x64 and
# `cargo check --all-targets` for macOS arm64, then the Windows x64 and Linux arm64 cdxs
# that the smoke tests in tests/it/platforms run under wine and qemu-user with the real
# Codex of each.
cross: cross-tools cross-check cross-build

cross-tools:
	scripts/install-cross.sh
	scripts/wine-prefix.sh >/dev/null

cross-check:
	scripts/cross.sh check

cross-build:
	scripts/cross.sh build

# Only the cross smoke tests (after `make cross`).
test-cross:
	CI=$${CI:-1} $(CARGO) nextest run -E 'test(/^platforms::/)'

# The whole suite built for Windows x64 and run under wine (scripts/test-windows.sh; not
# in `make test`: it takes longer than CI's budget allows beside the Linux suite).
test-windows: cross-tools
	scripts/test-windows.sh $(ARGS)

# The release archives of Linux x86_64, Linux arm64 and Windows x64 (mingw), built here once
# each with the `dist` profile, with their SHA-256 files, sha256.sum, the installers and the
# Homebrew formula and winget manifest, in target/distrib-local (scripts/dist-local.sh).
dist-local:
	scripts/install-cross.sh
	scripts/dist-local.sh

# Regenerates what dist (cargo-dist, `cargo install cargo-dist --locked --version 0.34.0`)
# derives from dist-workspace.toml and Cargo.toml: the release workflow and the shell and
# PowerShell installers in packaging/ (the release test checks they are for this version).
installers:
	dist generate --mode ci
	dist build --artifacts=global
	cp target/distrib/cdxs-installer.sh target/distrib/cdxs-installer.ps1 packaging/

# The whole suite, as CI runs it (.ci/run calls exactly this): the cross checks and
# builds, lint, then every test (unit, integration, real Codex on Linux x64, Windows x64
# under wine and Linux arm64 under qemu-user, the sync server on SQLite and PostgreSQL).
test: codex-cli postgres cross lint
ifeq ($(NEXTEST),yes)
	CI=$${CI:-1} $(CARGO) nextest run --no-fail-fast
else
	CI=$${CI:-1} $(CARGO) test --no-fail-fast
endif
	$(MAKE) fuzz

# A short bounded run of every fuzz target (cargo-fuzz's libFuzzer, on stable Rust: no
# sanitizer, so no nightly flags), from the committed seeds in fuzz/seeds/<target>/ plus
# what earlier runs found (fuzz/corpus/, not committed). FUZZ_SECONDS per target.
FUZZ_TARGETS := manifest auth_json rollout_lines trash_manifest saved_plan
FUZZ_SECONDS ?= 8
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  $(CARGO) fuzz run --dev --sanitizer none $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 2>&1 \
	    | grep -E "^(Done|==|INFO: (Seed|Loaded))|panicked|ERROR|SUMMARY" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

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
