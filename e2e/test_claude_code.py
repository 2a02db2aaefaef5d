"""Claude Code, the real binary, run non-interactively (-p) through Tollgate.

Each run goes through a byte-transparent WireTap (to see the request lines and auth headers
the history database does not keep) and has HTTP(S)_PROXY pointed at a Sinkhole, so nothing
Claude Code might try to fetch besides the gateway leaves the machine.

What the mock does with Claude Code: it calls the FIRST tool of the request with schema-filled
arguments. With Claude Code's default tool set that is `Agent`, whose sub-agent calls tools
again, without end; so every run names its tools with --tools: none for plain text, Glob
(pattern "test", harmless, finds the file `test` in the scratch dir) for a tool turn.

Run by e2e/run.sh; needs CLAUDE_BIN (the command that starts Claude Code) besides the
variables test_sdks.py needs.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

from common import (
    GATEWAY_URL,
    KEY,
    REPLY_PREFIX,
    Tests,
    body_text,
    check,
    db_rows,
    describe_row,
    eq,
    log,
)
from wiretap import Sinkhole, WireTap

test = Tests()

MODEL = "claude-sonnet-4-5"
CLAUDE = shlex.split(os.environ.get("CLAUDE_BIN", "claude"))
SCRATCH = tempfile.mkdtemp(prefix="tollgate-e2e-cc-")
HOME = os.path.join(SCRATCH, "home")
WORK = os.path.join(SCRATCH, "work")
os.makedirs(HOME)
os.makedirs(WORK)
with open(os.path.join(WORK, "test"), "w") as f:
    f.write("a file named test, for the mock's Glob call\n")

_gw = urlparse(GATEWAY_URL)
TAP = WireTap(_gw.hostname or "127.0.0.1", _gw.port or 80)
SINK = Sinkhole()


class Run:
    def __init__(self, rc, stdout, stderr, seen, rows, seconds):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.seen, self.rows, self.seconds = seen, rows, seconds

    def explain(self) -> str:
        """Everything needed to tell a client problem from a gateway problem."""
        out = [f"exit {self.rc} after {self.seconds:.1f}s", "stdout: " + body_text(self.stdout, 3000)]
        out.append("stderr: " + body_text(self.stderr, 3000))
        out += [f"wire: {s.method} {s.target} auth={s.auth_style()}" for s in self.seen]
        for row in self.rows:
            out.append("history: " + describe_row(row))
            if row["status"] != 200 or row["outcome"] != "ok":
                out.append("  request: " + body_text(row["request_body"], 1500))
                out.append("  response: " + body_text(row["response_body"], 3000))
        return "\n     ".join(out)

    def stream_json(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip().startswith("{")]


def claude(*args: str, env: dict | None = None, auth: str = "api_key", timeout: int = 120) -> Run:
    """Runs Claude Code once; returns its output, what crossed the wire and the history rows."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": HOME,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "ANTHROPIC_BASE_URL": TAP.url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # Anything not for the gateway goes to the sinkhole and is refused.
        "HTTPS_PROXY": SINK.url,
        "HTTP_PROXY": SINK.url,
        "https_proxy": SINK.url,
        "http_proxy": SINK.url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if auth == "api_key":
        base["ANTHROPIC_API_KEY"] = KEY
    elif auth == "auth_token":
        base["ANTHROPIC_AUTH_TOKEN"] = KEY
    base.update(env or {})
    before = len(TAP.seen())
    t0_ms = int(time.time() * 1000) - 5
    started = time.monotonic()
    try:
        p = subprocess.run(
            [*CLAUDE, *args],
            cwd=WORK,
            env=base,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        rc, stdout, stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    seconds = time.monotonic() - started
    seen = TAP.seen()[before:]
    # Every POST that crossed the wire should become one history row; give the write-behind
    # recorder a moment.
    posts = [s for s in seen if s.method == "POST"]
    # A failed run may have made requests the gateway rightly does not record (a bad key).
    deadline = time.monotonic() + (10 if rc == 0 else 1)
    while True:
        rows = db_rows("started_at_ms >= ? AND user_agent LIKE 'claude-cli%'", [t0_ms])
        if len(rows) >= len(posts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    run = Run(rc, stdout, stderr, seen, rows, seconds)
    log(run.explain())
    return run


def assert_session_ok(run: Run, min_requests: int = 1, provider: str = "anthropic") -> None:
    """The run exited 0, and every request it made went through and was recorded as ok."""
    if run.rc != 0:
        raise AssertionError("Claude Code failed:\n     " + run.explain())
    posts = [s for s in run.seen if s.method == "POST"]
    check(len(posts) >= min_requests, f"at least {min_requests} POSTs, saw {len(posts)}:\n     {run.explain()}")
    for s in posts:
        check(
            s.target.startswith("/v1/messages"),
            f"unexpected endpoint {s.method} {s.target}:\n     {run.explain()}",
        )
    eq(len(run.rows), len(posts), "history rows for the POSTs")
    bad = [r for r in run.rows if r["status"] != 200 or r["outcome"] != "ok"]
    check(not bad, f"requests that did not succeed:\n     {run.explain()}")
    for r in run.rows:
        check(r["provider"] == provider, f"provider {r['provider']}")
        if r["endpoint"] == "messages":
            check(r["input_tokens"] + r["cache_read_tokens"] > 0, f"input tokens: {describe_row(r)}")
            check(r["output_tokens"] > 0, f"output tokens: {describe_row(r)}")


# ==============================================================================================


@test
def claude_code_version():
    p = subprocess.run([*CLAUDE, "--version"], capture_output=True, text=True, timeout=60, env={"HOME": HOME, "PATH": os.environ.get("PATH", "")})
    eq(p.returncode, 0, f"--version exit ({p.stderr.strip()})")
    print(f"     {p.stdout.strip()}")


@test
def claude_code_says_hello():
    run = claude("-p", "say hello", "--model", MODEL, "--tools", "")
    assert_session_ok(run)
    check("Hello from the mock" in run.stdout, f"the mock's reply printed:\n     {run.explain()}")
    messages = [s for s in run.seen if s.method == "POST" and s.target.startswith("/v1/messages")]
    for s in messages:
        eq(s.target, "/v1/messages?beta=true", "Claude Code's path")
        eq(s.auth_style(), "x-api-key", "ANTHROPIC_API_KEY is sent as x-api-key")
        check(s.headers.get("anthropic-version"), "anthropic-version sent")
        check(s.headers.get("anthropic-beta"), "anthropic-beta sent")
        check(s.headers.get("user-agent", "").startswith("claude-cli/"), "user agent")
    main = [r for r in run.rows if r["model_requested"] == MODEL]
    check(main, f"a request for {MODEL}: {[describe_row(r) for r in run.rows]}")
    for r in main:
        eq(r["endpoint"], "messages", "endpoint")
        eq(r["stream"], 1, "Claude Code streams")
        eq(r["stop_reason"], "end_turn", "stop_reason")
    print(f"     wire: {sorted({f'{s.method} {s.target}' for s in run.seen})}")


@test
def claude_code_json_result():
    run = claude("-p", "reply in json", "--model", MODEL, "--tools", "", "--output-format", "json")
    assert_session_ok(run)
    result = json.loads(run.stdout)
    eq(result.get("type"), "result", "type")
    eq(result.get("subtype"), "success", "subtype")
    eq(result.get("is_error"), False, "is_error")
    check(REPLY_PREFIX in result.get("result", ""), f"result text: {result.get('result')!r}")
    usage = result.get("usage", {})
    check(usage.get("output_tokens", 0) > 0, f"usage reached Claude Code: {usage}")


@test
def claude_code_tool_turn():
    """The mock calls Glob; Claude Code runs it, sends the result back (with the thinking
    block of the first turn, signature intact) and gets the final text."""
    run = claude(
        "-p", "find the file named test",
        "--model", MODEL,
        "--tools", "Glob",
        "--allowedTools", "Glob",
        "--output-format", "stream-json",
        "--verbose",
    )
    assert_session_ok(run, min_requests=2)
    events = run.stream_json()
    uses = [
        b
        for e in events
        if e.get("type") == "assistant"
        for b in e["message"]["content"]
        if b.get("type") == "tool_use"
    ]
    check(uses, f"a tool_use reached Claude Code:\n     {run.explain()}")
    eq(uses[0]["name"], "Glob", "tool")
    eq(uses[0]["input"], {"pattern": "test"}, "tool input")
    results = [
        b
        for e in events
        if e.get("type") == "user"
        for b in (e["message"]["content"] if isinstance(e["message"]["content"], list) else [])
        if b.get("type") == "tool_result"
    ]
    check(results, "Claude Code ran the tool")
    check(not results[0].get("is_error"), f"tool result ok: {results[0]}")
    final = events[-1]
    eq(final.get("type"), "result", "last event")
    eq(final.get("subtype"), "success", "result subtype")
    check(REPLY_PREFIX in final.get("result", ""), f"final text: {final.get('result')!r}")

    # The turn after the tool call carries the first response's thinking block verbatim.
    main = [r for r in run.rows if r["model_requested"] == MODEL]
    check(len(main) >= 2, "two requests for the main model")
    first_resp = main[0]["response_body"].decode() if isinstance(main[0]["response_body"], bytes) else main[0]["response_body"]
    sig = json.loads(
        next(line[6:] for line in first_resp.splitlines() if line.startswith("data: ") and "signature_delta" in line)
    )["delta"]["signature"]
    second_req = json.loads(main[1]["request_body"])
    sent_back = [
        b
        for m in second_req["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "thinking"
    ]
    check(sent_back and sent_back[0].get("signature") == sig, f"thinking signature sent back: {sent_back}")
    eq(main[0]["stop_reason"], "tool_use", "first turn stop_reason")
    eq(main[-1]["stop_reason"], "end_turn", "last turn stop_reason")


@test
def claude_code_continue_session():
    """--continue resends the whole previous conversation (tool use and thinking included)."""
    run = claude("-p", "and once more", "--continue", "--model", MODEL, "--tools", "Glob", "--allowedTools", "Glob")
    assert_session_ok(run)
    check(REPLY_PREFIX in run.stdout, f"reply printed:\n     {run.explain()}")
    main = [r for r in run.rows if r["model_requested"] == MODEL]
    body = json.loads(main[0]["request_body"])
    types = {b.get("type") for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]}
    check({"tool_use", "tool_result", "thinking"} <= types, f"history resent, block types {types}")


def tool_turn_on(model: str, provider: str) -> None:
    """Claude Code on a model of another dialect: the tool loop goes through translation."""
    run = claude(
        "-p", "find the file named test",
        "--model", model,
        "--tools", "Glob",
        "--allowedTools", "Glob",
        "--output-format", "stream-json",
        "--verbose",
    )
    assert_session_ok(run, min_requests=2, provider=provider)
    events = run.stream_json()
    uses = [
        b
        for e in events
        if e.get("type") == "assistant"
        for b in e["message"]["content"]
        if b.get("type") == "tool_use"
    ]
    # For a model it does not know, Claude Code offers a deferred-tool placeholder first, and
    # the mock calls the first tool it is offered: any call proves the loop.
    check(uses, f"a tool call reached Claude Code:\n     {run.explain()}")
    final = events[-1]
    eq(final.get("subtype"), "success", "result subtype")
    check(REPLY_PREFIX in final.get("result", ""), f"final text: {final.get('result')!r}")
    main = [r for r in run.rows if r["model_requested"] == model]
    check(len(main) >= 2, f"two requests for {model}")
    for r in main:
        eq(r["provider"], provider, "provider")
    eq(main[0]["stop_reason"], "tool_use", "first turn stop_reason")
    eq(main[-1]["stop_reason"], "end_turn", "last turn stop_reason")


@test
def claude_code_on_an_openai_model():
    tool_turn_on("openai:gpt-4o", "openai")


@test
def claude_code_on_gemini():
    tool_turn_on("gemini-2.5-flash", "gemini")


@test
def claude_code_continues_on_claude_after_gemini():
    """--continue after the Gemini session: its thinking was signed by Gemini, so it must not
    reach Claude (which would reject the signature); the rest of the history goes."""
    run = claude("-p", "and once more", "--continue", "--model", MODEL, "--tools", "Glob", "--allowedTools", "Glob")
    assert_session_ok(run)
    check(REPLY_PREFIX in run.stdout, f"reply printed:\n     {run.explain()}")
    main = [r for r in run.rows if r["model_requested"] == MODEL]
    sent = json.loads(main[0]["forwarded_body"] or main[0]["request_body"])
    types = [b.get("type") for m in sent["messages"] if isinstance(m["content"], list) for b in m["content"]]
    check("tool_use" in types and "tool_result" in types, f"history resent: {types}")
    check("thinking" not in types, f"Gemini's thinking stripped before Claude: {types}")


@test
def claude_code_compact():
    """/compact sends the whole conversation with the summariser's instructions (a big request,
    every tool offered); through the gateway it succeeds, on Claude and translated to GPT."""
    for model, provider in ((MODEL, "anthropic"), ("openai:gpt-4o", "openai")):
        run = claude("-p", "/compact", "--continue", "--model", model)
        assert_session_ok(run, provider=provider)
        bodies = [json.loads(r["request_body"]) for r in run.rows if r["request_body"]]
        check(
            any("Respond with plain text only" in json.dumps(b) for b in bodies),
            f"a compaction request went through ({model}):\n     {run.explain()}",
        )


@test
def claude_code_parallel_tools():
    run = claude(
        "-p", "look twice [[parallel]]",
        "--model", MODEL,
        "--tools", "Glob,Grep",
        "--allowedTools", "Glob,Grep",
        "--output-format", "stream-json",
        "--verbose",
    )
    assert_session_ok(run, min_requests=2)
    events = run.stream_json()
    names = [
        b["name"]
        for e in events
        if e.get("type") == "assistant"
        for b in e["message"]["content"]
        if b.get("type") == "tool_use"
    ]
    eq(len(names), 2, f"two tool calls ({names})")
    eq(events[-1].get("subtype"), "success", "result")


@test
def claude_code_failing_tool():
    """Bash runs the mock's command "test" (exit status 1): an error tool_result goes back
    through the gateway and the session still ends in text."""
    run = claude(
        "-p", "run something",
        "--model", MODEL,
        "--tools", "Bash",
        "--allowedTools", "Bash",
        "--output-format", "stream-json",
        "--verbose",
    )
    assert_session_ok(run, min_requests=2)
    events = run.stream_json()
    eq(events[-1].get("subtype"), "success", "result")
    check(REPLY_PREFIX in events[-1].get("result", ""), "final text")


@test
def claude_code_auth_token_is_bearer():
    run = claude("-p", "bearer hello", "--model", MODEL, "--tools", "", auth="auth_token")
    assert_session_ok(run)
    check("Hello from the mock" in run.stdout, f"reply printed:\n     {run.explain()}")
    posts = [s for s in run.seen if s.method == "POST"]
    eq({s.auth_style() for s in posts}, {"bearer"}, "ANTHROPIC_AUTH_TOKEN is sent as Bearer")


@test
def claude_code_bad_key_is_reported():
    """Claude Code retries a 401 (up to 10 times, with backoff: it may be an apiKeyHelper key
    that rotated) unless the response says `x-should-retry: false`; it does the same against
    api.anthropic.com. CLAUDE_CODE_MAX_RETRIES=1 keeps this test short."""
    run = claude(
        "-p", "hello", "--model", MODEL, "--tools", "",
        env={"ANTHROPIC_API_KEY": "sk-wrong", "CLAUDE_CODE_MAX_RETRIES": "1"},
        timeout=90,
    )
    check(run.rc not in (0, "timeout"), f"Claude Code must fail on a bad key:\n     {run.explain()}")
    said = (run.stdout + run.stderr).lower()
    check(
        "invalid api key" in said or "401" in said or "authentication" in said,
        f"the gateway's 401 surfaced to the user:\n     {run.explain()}",
    )
    print(f"     Claude Code says: {(run.stdout + run.stderr).strip()[:200]!r}")


@test
def claude_code_unknown_model_is_reported():
    run = claude("-p", "hello", "--model", "no-such-model", "--tools", "", timeout=90)
    check(run.rc not in (0, "timeout"), f"Claude Code must fail on an unknown model:\n     {run.explain()}")
    said = run.stdout + run.stderr
    check("no-such-model" in said or "404" in said or "not found" in said.lower(), f"error surfaced:\n     {run.explain()}")
    print(f"     Claude Code says: {said.strip()[:200]!r}")


def no_traffic_left_the_machine():
    attempts = sorted(set(SINK.attempts))
    if attempts:
        print(f"     note: Claude Code tried (refused by the sinkhole): {attempts}")


def finish():
    no_traffic_left_the_machine()
    TAP.close()
    SINK.close()
    if not os.environ.get("E2E_KEEP"):
        shutil.rmtree(SCRATCH, ignore_errors=True)
    else:
        print(f"     scratch kept: {SCRATCH}")


if __name__ == "__main__":
    print(f"claude: {' '.join(CLAUDE)}, gateway {GATEWAY_URL} (tapped at {TAP.url})")
    try:
        code = test.run("claude_code")
    finally:
        finish()
    sys.exit(code)
