"""Codex, the real binary (`codex exec`), through Tollgate: Codex speaks only the OpenAI Responses
API, so every model below except OpenAI's own is reached by translation.

The mock calls the first tool Codex offers (`exec_command`, with the schema-filled command
`test`, which just exits 1), Codex runs it and sends the result back with the reasoning item
Tollgate sealed, and the mock answers with text. A run passes when Codex exits 0 having run the
tool and printed the mock's answer, and the history holds its exchanges on the expected
provider.

Run by e2e/run.sh; needs CODEX_BIN besides the variables test_sdks.py needs.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import time

from common import DB_PATH, GATEWAY_URL, KEY, REPLY_PREFIX, Tests, check, db_rows, eq, log

test = Tests()
CODEX = os.environ.get("CODEX_BIN", "")
ROOT = tempfile.mkdtemp(prefix="tollgate-codex-")


def codex(model: str, prompt: str, timeout: int = 120) -> tuple[int | str, str, list[dict], str]:
    home = tempfile.mkdtemp(dir=ROOT)
    work = tempfile.mkdtemp(dir=ROOT)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(
            f'model = "{model}"\n'
            'model_provider = "tollgate"\n\n'
            "[model_providers.tollgate]\n"
            'name = "Tollgate"\n'
            f'base_url = "{GATEWAY_URL}/v1"\n'
            'env_key = "TOLLGATE_KEY"\n'
            'wire_api = "responses"\n'
        )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "CODEX_HOME": home,
        "TOLLGATE_KEY": KEY,
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    t0_ms = int(time.time() * 1000) - 5
    try:
        p = subprocess.run(
            [CODEX, "exec", "--skip-git-repo-check", "--sandbox", "danger-full-access", prompt],
            cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout,
        )
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", str(e.stdout or "") + str(e.stderr or "")
    deadline = time.monotonic() + 10
    while True:
        rows = db_rows("started_at_ms >= ? AND endpoint = 'responses'", [t0_ms])
        if (len(rows) >= 2 and all(r["outcome"] for r in rows)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    log(model, rc, out[-2000:])
    return rc, out, rows, work


def tool_loop(model: str, provider: str) -> None:
    rc, out, rows, work = codex(model, "What is the weather in Paris?")
    eq(rc, 0, f"codex exit status; output:\n{out[-3000:]}")
    check("exec" in out and "test" in out, f"Codex ran the tool:\n{out[-3000:]}")
    check(REPLY_PREFIX in out, f"the mock's answer reached Codex:\n{out[-3000:]}")
    check(len(rows) >= 2, f"two exchanges recorded, got {len(rows)}")
    for r in rows:
        eq(r["provider"], provider, "provider")
        eq(r["status"], 200, "status")
        eq(r["outcome"], "ok", "outcome")
    eq(rows[0]["stop_reason"], "tool_use", "first turn stop reason")
    # One Codex session, recognised from its session header; its working directory is read
    # from Codex's environment context, whichever provider served it.
    sessions = {r["session_id"] for r in rows}
    check(len(sessions) == 1 and next(iter(sessions)).startswith("codex:"), f"sessions {sessions}")
    con = sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True, timeout=5)
    try:
        cwd = con.execute("SELECT cwd FROM sessions WHERE id = ?", (next(iter(sessions)),)).fetchone()
    finally:
        con.close()
    check(cwd and cwd[0] == work, f"session cwd {cwd} (ran in {work})")


@test
def codex_version():
    p = subprocess.run([CODEX, "--version"], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, "codex --version")
    log(p.stdout.strip())


@test
def codex_on_claude():
    tool_loop("claude-sonnet-4-5-20250929", "anthropic")


@test
def codex_on_an_openai_chat_model():
    tool_loop("openai:gpt-4o", "openai")


@test
def codex_on_gemini():
    tool_loop("gemini-2.5-flash", "gemini")


@test
def codex_on_ollama():
    tool_loop("ollama-native:qwen3", "ollama-native")


@test
def codex_on_openai_responses_passes_through():
    # OpenAI itself serves the Responses API: the bytes pass through untranslated.
    tool_loop("gpt-5.1", "openai")


if __name__ == "__main__":
    raise SystemExit(test.run("codex"))
