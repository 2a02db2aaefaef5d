#!/usr/bin/env bash
# End-to-end check: real clients (the official anthropic and openai Python SDKs, and Claude
# Code) talk to Tollgate, which talks to the mock upstream (tollgate-mock). Everything stays
# on 127.0.0.1.
#
#   e2e/run.sh                 build (debug), set up e2e/.venv and e2e/node_modules, run all
#   TOLLGATE_BIN=... MOCK_BIN=... e2e/run.sh      use these binaries, skip cargo
#   E2E_SUITES=sdks e2e/run.sh                    only some suites (sdks, translation, claude_code, codex)
#   E2E_ONLY=thinking e2e/run.sh                  only tests whose name contains this
#   E2E_VERBOSE=1 / E2E_KEEP=1                    more output / keep the temp dir and logs
#
# Prints one line per test and closes with exactly `N passed, M failed`; exits non-zero on any
# failure. Needs: cargo (unless the binaries are given), python3 (with venv), node and npm.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$E2E_DIR")"
SUITES="${E2E_SUITES:-sdks translation claude_code codex}"
KEY="tg-e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
STARTED=$SECONDS

say() { printf '==> %s\n' "$*"; }
die() { printf 'e2e: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }
# Loopback only, whatever proxy the environment sets.
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

# ---- binaries ----------------------------------------------------------------------------------
if [[ -n "${TOLLGATE_BIN:-}" && -n "${MOCK_BIN:-}" ]]; then
    say "using TOLLGATE_BIN=$TOLLGATE_BIN MOCK_BIN=$MOCK_BIN"
else
    say "cargo build -p tollgate -p tollgate-testkit --bins"
    (cd "$ROOT" && cargo build --quiet -p tollgate -p tollgate-testkit --bins) || die "cargo build failed"
    TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    TOLLGATE_BIN="${TOLLGATE_BIN:-$TARGET_DIR/debug/tollgate}"
    MOCK_BIN="${MOCK_BIN:-$TARGET_DIR/debug/tollgate-mock}"
fi
[[ -x "$TOLLGATE_BIN" ]] || die "no gateway binary at $TOLLGATE_BIN"
[[ -x "$MOCK_BIN" ]] || die "no mock binary at $MOCK_BIN"

# ---- Python venv (cached in e2e/.venv, keyed on requirements.txt) --------------------------------
VENV="$E2E_DIR/.venv"
PY="$VENV/bin/python"
REQ="$E2E_DIR/requirements.txt"
REQ_STAMP="$(cat "$REQ" <(python3 --version 2>&1) | sha256sum | cut -d' ' -f1)"
pin() { sed -n "s/^$1==//p" "$REQ"; }
venv_ok() {
    [[ -x "$PY" && "$(cat "$VENV/.e2e-stamp" 2>/dev/null)" == "$REQ_STAMP" ]] || return 1
    [[ "$("$PY" -c 'import anthropic, openai; print(anthropic.__version__, openai.__version__)' 2>/dev/null)" \
        == "$(pin anthropic) $(pin openai)" ]]
}
if venv_ok; then
    say "python venv: cached (anthropic $(pin anthropic), openai $(pin openai))"
else
    say "python venv: installing anthropic $(pin anthropic), openai $(pin openai) into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed"
    timeout 600 "$PY" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ" \
        || die "pip install failed"
    echo "$REQ_STAMP" > "$VENV/.e2e-stamp"
    venv_ok || die "venv does not have the pinned versions"
fi

# ---- Claude Code and Codex (cached in e2e/node_modules, from package-lock.json) ------------------
CLAUDE_BIN=""
CODEX_BIN=""
CC_PIN=""
CODEX_PIN=""
if [[ " $SUITES " == *" claude_code "* || " $SUITES " == *" codex "* ]]; then
    CC_PKG="$E2E_DIR/node_modules/@anthropic-ai/claude-code"
    CODEX_PKG="$E2E_DIR/node_modules/@openai/codex"
    CC_PIN="$(sed -n 's/.*"@anthropic-ai\/claude-code": *"\([^"]*\)".*/\1/p' "$E2E_DIR/package.json")"
    CODEX_PIN="$(sed -n 's/.*"@openai\/codex": *"\([^"]*\)".*/\1/p' "$E2E_DIR/package.json")"
    # Absent on a fresh clone: the reads must not trip `set -e -o pipefail`.
    installed_cc="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$CC_PKG/package.json" 2>/dev/null | head -1 || true)"
    installed_codex="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$CODEX_PKG/package.json" 2>/dev/null | head -1 || true)"
    if [[ "$installed_cc" == "$CC_PIN" && "$installed_codex" == "$CODEX_PIN" ]]; then
        say "claude code $CC_PIN, codex $CODEX_PIN: cached"
    else
        say "npm ci (@anthropic-ai/claude-code@$CC_PIN, @openai/codex@$CODEX_PIN)"
        (cd "$E2E_DIR" && timeout 900 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
    fi
fi
if [[ " $SUITES " == *" claude_code "* ]]; then
    # The package ships a native binary as bin/claude.exe (put in place by its postinstall); with
    # install scripts disabled, cli-wrapper.cjs finds and runs the same binary. Old releases
    # were a cli.js for node.
    for candidate in "$E2E_DIR/node_modules/.bin/claude" "node $CC_PKG/cli-wrapper.cjs" "node $CC_PKG/cli.js"; do
        if timeout 60 $candidate --version >/dev/null 2>&1; then CLAUDE_BIN="$candidate"; break; fi
    done
    [[ -n "$CLAUDE_BIN" ]] || die "Claude Code does not start (tried $CC_PKG)"
fi
if [[ " $SUITES " == *" codex "* ]]; then
    CODEX_BIN="$E2E_DIR/node_modules/.bin/codex"
    timeout 60 "$CODEX_BIN" --version >/dev/null 2>&1 || die "Codex does not start ($CODEX_BIN)"
fi

# ---- mock and gateway ----------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-e2e.XXXXXX")"
MOCK_PID=""
GATEWAY_PID=""
cleanup() {
    local code=$?
    for pid in $GATEWAY_PID $MOCK_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $GATEWAY_PID $MOCK_PID; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "${E2E_KEEP:-}" ]]; then
        echo "e2e: kept $TMP (gateway.log, mock.log, data/tollgate.db)" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$MOCK_BIN" --listen 127.0.0.1:0 > "$TMP/mock.log" 2>&1 &
MOCK_PID=$!
MOCK_URL=""
for _ in $(seq 100); do
    MOCK_URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$TMP/mock.log" | head -1 || true)"
    [[ -n "$MOCK_URL" ]] && break
    kill -0 "$MOCK_PID" 2>/dev/null || die "mock exited: $(cat "$TMP/mock.log")"
    sleep 0.1
done
[[ -n "$MOCK_URL" ]] || die "mock did not announce its address"

GATEWAY_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"
mkdir -p "$TMP/data"
# Providers of every dialect, all on the mock: Gemini by its key variable, the Ollama native API
# and a Responses-only endpoint from the file.
cat > "$TMP/tollgate.toml" <<TOML
[providers.ollama-native]
base_url = "$MOCK_URL"
[providers.openai-responses]
base_url = "$MOCK_URL/v1"
api_key = "dummy"
TOML
# The gateway gets a clean environment: only the provider keys below (the clients get the
# gateway key only), and no stray TOLLGATE_* variable (it rejects ones it does not know, such
# as this script's TOLLGATE_BIN).
env -i PATH="$PATH" HOME="$TMP" RUST_BACKTRACE=1 \
    TOLLGATE_DATA_DIR="$TMP/data" \
    TOLLGATE_LISTEN="127.0.0.1:$GATEWAY_PORT" \
    TOLLGATE_MASTER_KEY="$KEY" \
    ANTHROPIC_API_KEY=dummy \
    TOLLGATE_ANTHROPIC_BASE_URL="$MOCK_URL" \
    OPENAI_API_KEY=dummy \
    TOLLGATE_OPENAI_BASE_URL="$MOCK_URL/v1" \
    GEMINI_API_KEY=dummy \
    TOLLGATE_GEMINI_BASE_URL="$MOCK_URL/v1beta" \
    TOLLGATE_CONFIG="$TMP/tollgate.toml" \
    TOLLGATE_LOG_FORMAT=pretty \
    TOLLGATE_SHUTDOWN_GRACE=2s \
    NO_COLOR=1 \
    "$TOLLGATE_BIN" serve > "$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
healthy=""
for _ in $(seq 150); do
    if timeout 2 curl -fsS --noproxy '*' "$GATEWAY_URL/health" >/dev/null 2>&1; then healthy=1; break; fi
    kill -0 "$GATEWAY_PID" 2>/dev/null || die "gateway exited: $(tail -20 "$TMP/gateway.log")"
    sleep 0.1
done
[[ -n "$healthy" ]] || die "gateway not healthy at $GATEWAY_URL/health: $(tail -20 "$TMP/gateway.log")"
say "mock $MOCK_URL, gateway $GATEWAY_URL (setup $((SECONDS - STARTED))s)"

# ---- tests ---------------------------------------------------------------------------------------
export TOLLGATE_URL="$GATEWAY_URL" TOLLGATE_KEY="$KEY" MOCK_URL TOLLGATE_DB="$TMP/data/tollgate.db" CLAUDE_BIN CODEX_BIN
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
TOTAL_PASSED=0
TOTAL_FAILED=0
for suite in $SUITES; do
    script="$E2E_DIR/test_$suite.py"
    [[ -f "$script" ]] || die "no suite $suite ($script)"
    say "suite $suite"
    suite_started=$SECONDS
    set +e
    (cd "$E2E_DIR" && timeout 600 "$PY" "$script") | tee "$TMP/$suite.out"
    code=${PIPESTATUS[0]}
    set -e
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/$suite.out" | tail -1 || true)"
    if [[ -z "$line" ]]; then
        echo "FAIL $suite: the suite ended without a result line (exit $code)"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
        continue
    fi
    read -r passed _ failed _ <<< "$line"
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    if [[ "$code" -ne 0 && "$failed" -eq 0 ]]; then
        echo "FAIL $suite: exit $code"
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
    say "suite $suite: $line in $((SECONDS - suite_started))s"
done

if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
    echo "FAIL gateway: it is no longer running"
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
fi
if [[ "$TOTAL_FAILED" -gt 0 ]]; then
    echo "---- gateway log (last 40 lines; E2E_KEEP=1 keeps it all) ----"
    tail -40 "$TMP/gateway.log"
fi
say "versions: anthropic $(pin anthropic), openai $(pin openai)${CC_PIN:+, claude-code $CC_PIN}${CODEX_PIN:+, codex $CODEX_PIN}; total $((SECONDS - STARTED))s"
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[[ "$TOTAL_FAILED" -eq 0 ]]
