#!/usr/bin/env bash
# A sandboxed tour of cdxs: its own temporary $HOME, state folder and Codex homes, and no
# network: chatgpt.com and auth.openai.com are a local mock (127.0.0.1), Codex's model calls
# go to a local Responses mock. Nothing outside the sandbox is read or written, except the
# pinned Codex CLI installed under target/codex-cli/ (as `make test` does).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CDXS=${CDXS:-$ROOT/target/debug/cdxs}
CODEX=$ROOT/target/codex-cli/0.171.0/node_modules/.bin/codex
# Before $HOME moves into the sandbox (cargo and npm need the real one).
if command -v npm >/dev/null 2>&1; then
  "$ROOT/scripts/install-codex.sh"
else
  printf '\033[1mnpm is absent: the parts that ask the real Codex CLI (login status, sessions) are skipped.\033[0m\n'
  printf 'Install Node.js and npm, then run `make demo` again to see them.\n'
fi
cargo build --quiet --examples --manifest-path "$ROOT/Cargo.toml"
EXAMPLES=$ROOT/target/debug/examples
# Under target/: Codex refuses to set up helper binaries in /tmp and says so on stderr.
mkdir -p "$ROOT/target"
SANDBOX=$(mktemp -d "$ROOT/target/demo.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$SANDBOX"; }
trap cleanup EXIT
export HOME=$SANDBOX/home CDXS_STATE_DIR=$SANDBOX/state
unset CODEX_HOME CDXS_MANIFEST OPENAI_API_KEY
mkdir -p "$HOME" "$SANDBOX/logins"
cd "$SANDBOX"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n\033[36m# %s\033[0m\n' "$*"; }
# Waits for a background helper's first line(s) in a file.
wait_for() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done; echo "demo: $1 never said $2" >&2; exit 1; }

"$EXAMPLES/demo_openai" "$SANDBOX/logins" > "$SANDBOX/openai.env" &
PIDS+=($!)
wait_for "$SANDBOX/openai.env" CDXS_CHATGPT_BASE_URL
set -a; . "$SANDBOX/openai.env"; set +a

echo "sandbox: $SANDBOX"
say "chatgpt.com and auth.openai.com are a local mock here ($CDXS_CHATGPT_BASE_URL): quota figures come from it"
say "two ChatGPT logins as Codex writes them (issued now, valid ten days) and an API key"
step "$CDXS" account add-api-key --api-key-stdin <<<"sk-demo-0123456789abcdef"
step "$CDXS" import auth --file "$SANDBOX/logins/personal-auth.json"
step "$CDXS" import auth --file "$SANDBOX/logins/work-auth.json"
step "$CDXS" list
step "$CDXS" account show me@corp
step "$CDXS" import auth --file "$SANDBOX/logins/personal-auth.json" --switch
step "$CDXS" account current
if [ -x "$CODEX" ]; then
  say "what the real Codex CLI thinks of the home cdxs just wrote:"
  step env CODEX_HOME="$HOME/.codex" "$CODEX" login status
fi

say "the declarative part: a manifest from the current state, then more homes"
step "$CDXS" init
step "$CDXS" import legacy "$ROOT/examples/demo/legacy-cdxs.toml"
M=$HOME/.config/cdxs/cdxs.yaml
cat >> "$M" <<YAML
  work:
    path: ~/codex-homes/work
    account: me-corp
  scratch:
    path: ~/codex-homes/scratch
YAML
step cat "$M"
step "$CDXS" validate
step "$CDXS" plan
step "$CDXS" apply --yes
step "$CDXS" plan --detailed-exitcode
step "$CDXS" status
if [ -x "$CODEX" ]; then
  say "drift: somebody runs \`codex login --with-api-key\` in a managed home; cdxs puts it back"
  printf 'sk-demo-drift-000000000' | CODEX_HOME=$HOME/codex-homes/work "$CODEX" login --with-api-key >/dev/null 2>&1
  step "$CDXS" plan || true
  step "$CDXS" apply --yes
  step env CODEX_HOME="$HOME/codex-homes/work" "$CODEX" login status
fi

say "one ChatGPT login lives in one home (Codex rotates its refresh token): cdxs refuses a second"
step "$CDXS" switch me@corp.example --home default || true
say "switch edits the manifest and the home in one generation; rollback undoes it from backups"
KEY=$("$CDXS" account list --json | python3 -c 'import json,sys; print(next(a["id"] for a in json.load(sys.stdin)["accounts"] if a["kind"] == "apikey"))')
step "$CDXS" switch "$KEY" --home default
step "$CDXS" account current
step "$CDXS" history
step "$CDXS" rollback --yes
step "$CDXS" account current
step "$CDXS" quota --all
step "$CDXS" run --home work -- sh -c 'echo "running with CODEX_HOME=$CODEX_HOME"'

if [ -x "$CODEX" ]; then
  say "sessions: the real Codex makes three offline (a local Responses mock), cdxs manages them"
  "$EXAMPLES/mock_responses" > "$SANDBOX/mock.toml" &
  PIDS+=($!)
  wait_for "$SANDBOX/mock.toml" openai_base_url
  S=$HOME/codex-homes/scratch
  cp "$SANDBOX/mock.toml" "$S/config.toml"
  printf '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-mock"\n}' > "$S/auth.json"
  for p in "explain the build" "fix the flaky test" "write the changelog"; do
    (cd "$SANDBOX" && CODEX_HOME=$S "$CODEX" exec --skip-git-repo-check --json "$p" </dev/null >/dev/null 2>&1)
  done
  step "$CDXS" session list --all-homes
  ID=$("$CDXS" session list --home scratch --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["threads"][1]["id"])')
  step "$CDXS" session stats "$ID"
  step "$CDXS" session trash "$ID" --home scratch
  step "$CDXS" session trash-list
  step "$CDXS" session restore "$ID"
  step "$CDXS" session visibility check --home scratch
  say "how many threads Codex itself lists in that home (its app-server, thread/list):"
  step env CODEX_HOME="$S" python3 "$ROOT/scripts/codex_thread_list.py" "$CODEX"
fi

say "what to try next (on your own machine, outside this sandbox):"
cat <<'TXT'
  cdxs import auth --file ~/.codex/auth.json   # your current login into the vault
  cdxs init && cdxs plan                        # a manifest from what is there, and its plan
  cdxs login oauth                              # add another ChatGPT account
  cdxs quota --all                              # remaining quota, every account
  cdxs watch                                    # keep the homes as declared (see docs/watch.md)
  cdxs doctor                                   # is the installed Codex release supported?
  cdxs <command> --help                         # every command has examples
TXT
echo; echo "demo finished; the sandbox is removed on exit"
