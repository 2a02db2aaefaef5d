"""The official Python SDKs (anthropic, openai) pointed at Tollgate, as a user would point them.

Every successful call sends its own `x-request-id` (the gateway adopts a client's id), so the
closing history check can find each exchange in the SQLite history and assert it was recorded
as it happened: endpoint, model, stream flag, status 200, outcome ok, tokens > 0.

The parity tests send the same request straight to the mock upstream and through the gateway
and compare what the SDK hands back (ids and timestamps aside): "works through Tollgate exactly
as direct".

Run by e2e/run.sh; by hand: TOLLGATE_URL=... TOLLGATE_KEY=... MOCK_URL=... TOLLGATE_DB=...
python e2e/test_sdks.py  (E2E_ONLY=substring runs a subset, E2E_VERBOSE=1 prints more).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys

# The SDKs read credentials and base URLs from the environment; only the arguments below count.
for _name in (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
):
    os.environ.pop(_name, None)

import warnings  # noqa: E402

# The SDK warns that claude-sonnet-4-5 is deprecated; the mock does not care which model it is.
warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*deprecated.*")

import anthropic  # noqa: E402
import httpx2 as httpx  # noqa: E402  (the transport both SDKs are built on)
import openai  # noqa: E402

from common import (  # noqa: E402
    DB_PATH,
    GATEWAY_URL,
    KEY,
    MOCK_URL,
    REPLY_PREFIX,
    Tests,
    check,
    describe_row,
    eq,
    log,
    new_request_id,
    wait_for_rows,
)

test = Tests()

CLAUDE = "claude-sonnet-4-5"
GPT = "gpt-4o"

# Every call expected to succeed: (request id, endpoint, model, stream, expects output tokens).
EXPECTED: list[tuple[str, str, str, bool, bool]] = []


def track(tag: str, endpoint: str, model: str, stream: bool, output: bool = True) -> dict:
    """Headers for one call that must succeed; remembered for the history check."""
    rid = new_request_id(tag)
    EXPECTED.append((rid, endpoint, model, stream, output))
    return {"x-request-id": rid}


# Calls expected to be refused: (request id, status, error_type). The gateway records these too
# (all but 401s: an unauthenticated caller gets no history row).
REFUSED: list[tuple[str, int, str]] = []


def track_refused(tag: str, status: int, error_type: str) -> dict:
    rid = new_request_id(tag)
    REFUSED.append((rid, status, error_type))
    return {"x-request-id": rid}


def anthropic_client(base_url: str = GATEWAY_URL, **kw) -> anthropic.Anthropic:
    if "auth_token" not in kw and "default_headers" not in kw:
        kw.setdefault("api_key", KEY)
    return anthropic.Anthropic(base_url=base_url, max_retries=0, timeout=30, **kw)


def openai_client(base_url: str = GATEWAY_URL + "/v1", **kw) -> openai.OpenAI:
    kw.setdefault("api_key", KEY)
    return openai.OpenAI(base_url=base_url, max_retries=0, timeout=30, **kw)


# Tools. The mock calls the first tool (the first two for [[parallel]]) with every required
# property filled by type: strings "test", enums their first value.
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location", "unit"],
}
TIME_SCHEMA = {
    "type": "object",
    "properties": {"timezone": {"type": "string"}},
    "required": ["timezone"],
}
WEATHER_INPUT = {"location": "test", "unit": "celsius"}
TIME_INPUT = {"timezone": "test"}

A_TOOLS = [
    {"name": "get_weather", "description": "Current weather", "input_schema": WEATHER_SCHEMA},
    {"name": "get_time", "description": "Current time", "input_schema": TIME_SCHEMA},
]
O_TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Current weather", "parameters": WEATHER_SCHEMA},
    },
    {
        "type": "function",
        "function": {"name": "get_time", "description": "Current time", "parameters": TIME_SCHEMA},
    },
]


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def a_text(message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


# ================================ Anthropic SDK ================================================


@test
def anthropic_text_non_streaming():
    client = anthropic_client()
    raw = client.messages.with_raw_response.create(
        model=CLAUDE,
        max_tokens=256,
        messages=[user("hi there")],
        extra_headers=track("a-text", "messages", CLAUDE, False),
    )
    msg = raw.parse()
    eq(msg.type, "message", "type")
    eq(msg.role, "assistant", "role")
    check(msg.id.startswith("msg_"), f"id {msg.id!r}")
    eq(a_text(msg), REPLY_PREFIX + "hi there", "text")
    eq(msg.stop_reason, "end_turn", "stop_reason")
    check(msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0, f"usage {msg.usage}")
    check(msg._request_id, "the upstream's request-id header reaches the SDK")
    check(raw.headers.get("x-request-id", "").startswith("e2e-a-text-"), "x-request-id echoed")
    check(raw.headers.get("content-type", "").startswith("application/json"), "content-type")


@test
def anthropic_text_streaming():
    client = anthropic_client()
    pieces: list[str] = []
    kinds: list[str] = []
    with client.messages.stream(
        model=CLAUDE,
        max_tokens=256,
        messages=[user("stream me a reply please")],
        extra_headers=track("a-stream", "messages", CLAUDE, True),
    ) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "text":
                pieces.append(event.text)
        final = stream.get_final_message()
    text = "".join(pieces)
    eq(text, REPLY_PREFIX + "stream me a reply please", "streamed text")
    eq(a_text(final), text, "final message text")
    check(len(pieces) >= 2, f"text arrived in several deltas, got {len(pieces)}")
    eq(final.stop_reason, "end_turn", "stop_reason")
    check(final.usage.input_tokens > 0, f"input tokens {final.usage}")
    check(final.usage.output_tokens > 0, f"output tokens {final.usage}")
    for kind in ("message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop"):
        check(kind in kinds, f"event {kind} missing from {kinds}")


@test
def anthropic_text_streaming_raw_events():
    """stream=True on create(): the raw SSE events, as lower-level clients consume them."""
    client = anthropic_client()
    events = list(
        client.messages.create(
            model=CLAUDE,
            max_tokens=256,
            messages=[user("raw events")],
            stream=True,
            extra_headers=track("a-raw", "messages", CLAUDE, True),
        )
    )
    types = [e.type for e in events]
    eq(types[0], "message_start", "first event")
    eq(types[-1], "message_stop", "last event")
    text = "".join(
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    eq(text, REPLY_PREFIX + "raw events", "text")
    delta = [e for e in events if e.type == "message_delta"][-1]
    eq(delta.delta.stop_reason, "end_turn", "stop_reason")
    check(delta.usage.output_tokens > 0, f"message_delta usage {delta.usage}")


def _anthropic_tool_turns(stream: bool, tag: str):
    client = anthropic_client()
    messages: list = [user("What's the weather in Paris?")]

    def call(msgs, turn):
        kwargs = dict(
            model=CLAUDE,
            max_tokens=512,
            tools=A_TOOLS,
            messages=msgs,
            extra_headers=track(f"{tag}{turn}", "messages", CLAUDE, stream),
        )
        if not stream:
            return client.messages.create(**kwargs)
        with client.messages.stream(**kwargs) as s:
            json_events = [e for e in s if e.type == "input_json"]
            final = s.get_final_message()
        if any(b.type == "tool_use" for b in final.content):
            check(json_events, "input_json events for the streamed tool input")
            eq(json_events[-1].snapshot, WEATHER_INPUT, "input_json snapshot")
        return final

    first = call(messages, 1)
    eq(first.stop_reason, "tool_use", "stop_reason of turn 1")
    uses = [b for b in first.content if b.type == "tool_use"]
    eq(len(uses), 1, "tool_use blocks")
    eq(uses[0].name, "get_weather", "tool name")
    eq(uses[0].input, WEATHER_INPUT, "parsed tool input")
    check(uses[0].id.startswith("toolu_"), f"tool id {uses[0].id}")

    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "18 degrees and sunny"}],
        },
    ]
    second = call(messages, 2)
    eq(second.stop_reason, "end_turn", "stop_reason of turn 2")
    eq(a_text(second), REPLY_PREFIX + "18 degrees and sunny", "answer after the tool result")


@test
def anthropic_tool_use_non_streaming():
    _anthropic_tool_turns(stream=False, tag="a-tool")


@test
def anthropic_tool_use_streaming():
    _anthropic_tool_turns(stream=True, tag="a-tool-s")


@test
def anthropic_parallel_tool_calls():
    client = anthropic_client()
    for stream in (False, True):
        kwargs = dict(
            model=CLAUDE,
            max_tokens=512,
            tools=A_TOOLS,
            messages=[user("Weather and time in Paris [[parallel]]")],
            extra_headers=track(f"a-par{int(stream)}", "messages", CLAUDE, stream),
        )
        if stream:
            with client.messages.stream(**kwargs) as s:
                msg = s.get_final_message()
        else:
            msg = client.messages.create(**kwargs)
        uses = [b for b in msg.content if b.type == "tool_use"]
        eq([(u.name, u.input) for u in uses], [("get_weather", WEATHER_INPUT), ("get_time", TIME_INPUT)], "calls")
        check(uses[0].id != uses[1].id, "distinct tool ids")
        eq(msg.stop_reason, "tool_use", "stop_reason")
        follow = client.messages.create(
            model=CLAUDE,
            max_tokens=512,
            tools=A_TOOLS,
            messages=[
                user("Weather and time in Paris [[parallel]]"),
                {"role": "assistant", "content": msg.content},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": uses[1].id, "content": "noon"},
                    ],
                },
            ],
            extra_headers=track(f"a-par-answer{int(stream)}", "messages", CLAUDE, False),
        )
        check(a_text(follow).startswith(REPLY_PREFIX), f"answer {a_text(follow)!r}")


@test
def anthropic_count_tokens():
    client = anthropic_client()
    small = client.messages.count_tokens(
        model=CLAUDE,
        messages=[user("count me")],
        extra_headers=track("a-count", "count_tokens", CLAUDE, False, output=False),
    )
    check(small.input_tokens > 0, f"input_tokens {small.input_tokens}")
    big = client.messages.count_tokens(
        model=CLAUDE,
        tools=A_TOOLS,
        system="You are terse.",
        messages=[user("count me " * 50)],
        extra_headers=track("a-count", "count_tokens", CLAUDE, False, output=False),
    )
    check(big.input_tokens > small.input_tokens, f"more input, more tokens: {big.input_tokens} vs {small.input_tokens}")


@test
def anthropic_thinking_non_streaming_round_trip():
    client = anthropic_client()
    first = client.messages.create(
        model=CLAUDE,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[user("think first")],
        extra_headers=track("a-think", "messages", CLAUDE, False),
    )
    eq([b.type for b in first.content], ["thinking", "text"], "block types")
    thinking = first.content[0]
    check(thinking.thinking, "thinking text")
    check(thinking.signature, "thinking signature")
    # The thinking block goes back verbatim in the next turn.
    second = client.messages.create(
        model=CLAUDE,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[user("think first"), {"role": "assistant", "content": first.content}, user("and again")],
        extra_headers=track("a-think", "messages", CLAUDE, False),
    )
    eq(second.content[0].type, "thinking", "second turn starts with thinking")
    eq(a_text(second), REPLY_PREFIX + "and again", "second answer")


@test
def anthropic_thinking_streaming_with_tools():
    """Thinking + tool use, streamed: the signature arrives as a signature_delta and the thinking
    block must survive the tool loop unchanged."""
    client = anthropic_client()
    kwargs = dict(
        model=CLAUDE,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=A_TOOLS,
    )
    messages: list = [user("weather please")]
    with client.messages.stream(
        messages=messages, extra_headers=track("a-think-s", "messages", CLAUDE, True), **kwargs
    ) as s:
        kinds = [e.type for e in s]
        first = s.get_final_message()
    check("thinking" in kinds and "signature" in kinds, f"thinking and signature events: {kinds}")
    eq([b.type for b in first.content], ["thinking", "tool_use"], "block types")
    check(first.content[0].signature, "signature assembled from the stream")
    use = first.content[1]
    eq(use.input, WEATHER_INPUT, "tool input")
    messages += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "rain"}]},
    ]
    with client.messages.stream(
        messages=messages, extra_headers=track("a-think-s", "messages", CLAUDE, True), **kwargs
    ) as s:
        second = s.get_final_message()
    eq([b.type for b in second.content], ["thinking", "text"], "block types of the answer")
    eq(a_text(second), REPLY_PREFIX + "rain", "answer")


@test
def anthropic_beta_messages():
    """client.beta.messages with betas=[...] sends anthropic-beta. The TypeScript SDK that
    Claude Code is built on also adds ?beta=true to the path (the Python SDK does not), so that
    is sent explicitly here; test_claude_code.py sees the real thing on the wire."""
    client = anthropic_client()
    raw = client.beta.messages.with_raw_response.create(
        model=CLAUDE,
        max_tokens=256,
        messages=[user("beta hello")],
        betas=["interleaved-thinking-2025-05-14"],
        extra_query={"beta": "true"},
        extra_headers=track("a-beta", "messages", CLAUDE, False),
    )
    eq(raw.http_request.url.params.get("beta"), "true", "?beta=true sent")
    eq(raw.http_request.headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14", "anthropic-beta")
    eq(a_text(raw.parse()), REPLY_PREFIX + "beta hello", "text")
    with client.beta.messages.stream(
        model=CLAUDE,
        max_tokens=256,
        messages=[user("beta stream")],
        betas=["interleaved-thinking-2025-05-14"],
        extra_query={"beta": "true"},
        extra_headers=track("a-beta-s", "messages", CLAUDE, True),
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    eq(text, REPLY_PREFIX + "beta stream", "streamed text")
    check(final.usage.output_tokens > 0, "usage")


@test
def anthropic_async_streaming():
    async def go():
        client = anthropic.AsyncAnthropic(base_url=GATEWAY_URL, api_key=KEY, max_retries=0, timeout=30)
        async with client.messages.stream(
            model=CLAUDE,
            max_tokens=256,
            messages=[user("async hello")],
            extra_headers=track("a-async", "messages", CLAUDE, True),
        ) as s:
            text = "".join([t async for t in s.text_stream])
            final = await s.get_final_message()
        await client.close()
        return text, final

    text, final = asyncio.run(go())
    eq(text, REPLY_PREFIX + "async hello", "text")
    check(final.usage.output_tokens > 0, "usage")


@test
def anthropic_models_list():
    client = anthropic_client()
    models = list(client.models.list())
    ids = [m.id for m in models]
    log("anthropic models:", ids)
    check(any(i.startswith("claude-") for i in ids), f"claude models listed: {ids}")
    check(all(m.type == "model" for m in models), "type model")
    one = client.models.retrieve(next(i for i in ids if i.startswith("claude-")))
    check(one.id.startswith("claude-"), f"retrieve {one.id}")


@test
def anthropic_auth_styles():
    """Whatever the SDK sends for api_key= (this version: Authorization: Bearer), auth_token=
    (Bearer) and a bare x-api-key header (what Claude Code sends) must all be accepted."""
    styles = {
        "api_key": anthropic_client(api_key=KEY),
        "auth_token": anthropic_client(api_key=None, auth_token=KEY),
        "x-api-key": anthropic_client(api_key=None, auth_token=None, default_headers={"x-api-key": KEY}),
    }
    seen = {}
    for name, client in styles.items():
        raw = client.messages.with_raw_response.create(
            model=CLAUDE,
            max_tokens=64,
            messages=[user(f"auth via {name}")],
            extra_headers=track("a-auth", "messages", CLAUDE, False),
        )
        sent = raw.http_request.headers
        seen[name] = "x-api-key" if "x-api-key" in sent else sent.get("authorization", "").split(" ")[0]
        eq(a_text(raw.parse()), REPLY_PREFIX + f"auth via {name}", name)
    log("auth headers sent:", seen)
    eq(seen["auth_token"], "Bearer", "auth_token sends Bearer")
    eq(seen["x-api-key"], "x-api-key", "default_headers sends x-api-key")


@test
def anthropic_bad_key_is_authentication_error():
    for client in (anthropic_client(api_key="sk-wrong"), anthropic_client(default_headers={"x-api-key": "sk-wrong"})):
        for stream in (False, True):
            try:
                if stream:
                    with client.messages.stream(model=CLAUDE, max_tokens=16, messages=[user("hi")]) as s:
                        s.get_final_message()
                else:
                    client.messages.create(model=CLAUDE, max_tokens=16, messages=[user("hi")])
            except anthropic.AuthenticationError as e:
                eq(e.status_code, 401, "status")
                check(isinstance(e.body, dict), f"error body parsed: {e.body!r}")
                eq(e.body.get("type"), "error", "body type")
                eq(e.body["error"]["type"], "authentication_error", "error type")
                check(e.body["error"]["message"], "error message")
            else:
                raise AssertionError("no AuthenticationError")


@test
def anthropic_unknown_model_is_not_found():
    client = anthropic_client()
    try:
        client.messages.create(
            model="no-such-model",
            max_tokens=16,
            messages=[user("hi")],
            extra_headers=track_refused("a-404", 404, "not_found_error"),
        )
    except anthropic.NotFoundError as e:
        eq(e.status_code, 404, "status")
        eq(e.body["error"]["type"], "not_found_error", "error type")
        check("no-such-model" in e.body["error"]["message"], f"message names the model: {e.body}")
    else:
        raise AssertionError("no NotFoundError")


@test
def anthropic_missing_max_tokens_is_bad_request():
    client = anthropic_client()
    try:
        client.post(
            "/v1/messages",
            cast_to=object,
            body={"model": CLAUDE, "messages": [user("hi")]},
            options={"headers": track_refused("a-400", 400, "invalid_request_error")},
        )
    except anthropic.BadRequestError as e:
        eq(e.status_code, 400, "status")
        eq(e.body["error"]["type"], "invalid_request_error", "error type")
        check("max_tokens" in e.body["error"]["message"], f"message names max_tokens: {e.body}")
    else:
        raise AssertionError("no BadRequestError")
    # The same through the typed API with the field left out by extra_body tricks is not
    # possible (max_tokens is a required argument); a wrong type is the typed equivalent.
    try:
        client.messages.create(model=CLAUDE, max_tokens=16, messages=[user("hi")], extra_body={"max_tokens": "lots"})
    except anthropic.BadRequestError as e:
        eq(e.status_code, 400, "status for a non-integer max_tokens")
    else:
        raise AssertionError("no BadRequestError for max_tokens='lots'")


# ================================ OpenAI SDK ===================================================


@test
def openai_text_non_streaming():
    client = openai_client()
    raw = client.chat.completions.with_raw_response.create(
        model=GPT,
        messages=[user("hi there")],
        extra_headers=track("o-text", "chat_completions", GPT, False),
    )
    resp = raw.parse()
    eq(resp.object, "chat.completion", "object")
    choice = resp.choices[0]
    eq(choice.message.role, "assistant", "role")
    eq(choice.message.content, REPLY_PREFIX + "hi there", "content")
    eq(choice.finish_reason, "stop", "finish_reason")
    check(resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0, f"usage {resp.usage}")
    eq(resp.usage.total_tokens, resp.usage.prompt_tokens + resp.usage.completion_tokens, "total_tokens")
    check(raw.headers.get("x-request-id", "").startswith("e2e-o-text-"), "x-request-id echoed")


@test
def openai_text_streaming_with_usage():
    client = openai_client()
    chunks = list(
        client.chat.completions.create(
            model=GPT,
            messages=[user("stream me a reply please")],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=track("o-stream", "chat_completions", GPT, True),
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    eq(text, REPLY_PREFIX + "stream me a reply please", "streamed text")
    check(sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2, "several deltas")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    eq(finishes, ["stop"], "finish_reason")
    usage_chunks = [c for c in chunks if c.usage is not None]
    eq(len(usage_chunks), 1, "one usage chunk")
    eq(usage_chunks[0].choices, [], "the usage chunk has no choices")
    check(usage_chunks[0].usage.completion_tokens > 0, f"usage {usage_chunks[0].usage}")
    eq(len({c.id for c in chunks}), 1, "one completion id across chunks")


@test
def openai_text_streaming_without_usage():
    """No include_usage: the client must not get a usage chunk it did not ask for, but the
    gateway still has to meter the exchange."""
    client = openai_client()
    chunks = list(
        client.chat.completions.create(
            model=GPT,
            messages=[user("no usage please")],
            stream=True,
            extra_headers=track("o-stream-nousage", "chat_completions", GPT, True),
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    eq(text, REPLY_PREFIX + "no usage please", "streamed text")
    eq([c for c in chunks if c.usage is not None or not c.choices], [], "chunks without choices / with usage")


@test
def openai_stream_helper():
    client = openai_client()
    with client.chat.completions.stream(
        model=GPT,
        messages=[user("helper stream")],
        stream_options={"include_usage": True},
        extra_headers=track("o-helper", "chat_completions", GPT, True),
    ) as s:
        deltas = [e.delta for e in s if e.type == "content.delta"]
        final = s.get_final_completion()
    eq("".join(deltas), REPLY_PREFIX + "helper stream", "deltas")
    eq(final.choices[0].message.content, REPLY_PREFIX + "helper stream", "final content")
    check(final.usage and final.usage.total_tokens > 0, f"final usage {final.usage}")


def _openai_stream_tool_calls(chunks) -> tuple[list[dict], str | None]:
    calls: dict[int, dict] = {}
    finish = None
    for c in chunks:
        if not c.choices:
            continue
        ch = c.choices[0]
        finish = ch.finish_reason or finish
        for tc in ch.delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            if tc.id:
                slot["id"] = tc.id
            if tc.function and tc.function.name:
                slot["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                slot["arguments"] += tc.function.arguments
    return [calls[i] for i in sorted(calls)], finish


def _openai_tool_turns(stream: bool, tag: str):
    client = openai_client()
    messages: list = [user("What's the weather in Paris?")]
    kwargs = dict(model=GPT, tools=O_TOOLS)
    if stream:
        chunks = list(
            client.chat.completions.create(
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers=track(f"{tag}1", "chat_completions", GPT, True),
                **kwargs,
            )
        )
        calls, finish = _openai_stream_tool_calls(chunks)
        check(
            sum(1 for c in chunks if c.choices and c.choices[0].delta.tool_calls) >= 2,
            "arguments streamed in several chunks",
        )
        assistant = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls
            ],
        }
    else:
        resp = client.chat.completions.create(
            messages=messages, extra_headers=track(f"{tag}1", "chat_completions", GPT, False), **kwargs
        )
        msg = resp.choices[0].message
        finish = resp.choices[0].finish_reason
        calls = [{"id": t.id, "name": t.function.name, "arguments": t.function.arguments} for t in msg.tool_calls or []]
        assistant = msg  # the SDK's own message object goes back as-is
    eq(finish, "tool_calls", "finish_reason")
    eq(len(calls), 1, "tool calls")
    eq(calls[0]["name"], "get_weather", "function name")
    eq(json.loads(calls[0]["arguments"]), WEATHER_INPUT, "parsed arguments")
    check(calls[0]["id"], "tool call id")

    messages += [assistant, {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18 degrees and sunny"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers=track(f"{tag}2", "chat_completions", GPT, True),
                **kwargs,
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        resp = client.chat.completions.create(
            messages=messages, extra_headers=track(f"{tag}2", "chat_completions", GPT, False), **kwargs
        )
        text = resp.choices[0].message.content
        eq(resp.choices[0].finish_reason, "stop", "finish_reason of the answer")
    eq(text, REPLY_PREFIX + "18 degrees and sunny", "answer after the tool result")


@test
def openai_tool_use_non_streaming():
    _openai_tool_turns(stream=False, tag="o-tool")


@test
def openai_tool_use_streaming():
    _openai_tool_turns(stream=True, tag="o-tool-s")


@test
def openai_parallel_tool_calls():
    client = openai_client()
    want = [("get_weather", WEATHER_INPUT), ("get_time", TIME_INPUT)]
    resp = client.chat.completions.create(
        model=GPT,
        tools=O_TOOLS,
        messages=[user("Weather and time [[parallel]]")],
        extra_headers=track("o-par0", "chat_completions", GPT, False),
    )
    calls = resp.choices[0].message.tool_calls
    eq([(c.function.name, json.loads(c.function.arguments)) for c in calls], want, "calls")
    check(calls[0].id != calls[1].id, "distinct ids")
    chunks = list(
        client.chat.completions.create(
            model=GPT,
            tools=O_TOOLS,
            messages=[user("Weather and time [[parallel]]")],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=track("o-par1", "chat_completions", GPT, True),
        )
    )
    scalls, finish = _openai_stream_tool_calls(chunks)
    eq([(c["name"], json.loads(c["arguments"])) for c in scalls], want, "streamed calls")
    eq(finish, "tool_calls", "finish_reason")
    answer = client.chat.completions.create(
        model=GPT,
        tools=O_TOOLS,
        messages=[
            user("Weather and time [[parallel]]"),
            resp.choices[0].message,
            {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
            {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
        ],
        extra_headers=track("o-par-answer", "chat_completions", GPT, False),
    )
    check(answer.choices[0].message.content.startswith(REPLY_PREFIX), "text answer")


@test
def openai_models_list():
    client = openai_client()
    ids = [m.id for m in client.models.list()]
    log("openai models:", ids)
    check(GPT in ids, f"{GPT} listed: {ids}")
    m = client.models.retrieve(GPT)
    eq(m.id, GPT, "retrieve")
    eq(m.object, "model", "object")


@test
def openai_bad_key_is_authentication_error():
    client = openai_client(api_key="sk-wrong")
    for stream in (False, True):
        try:
            r = client.chat.completions.create(model=GPT, messages=[user("hi")], stream=stream)
            if stream:
                list(r)
        except openai.AuthenticationError as e:
            eq(e.status_code, 401, "status")
            eq(e.code, "invalid_api_key", "code")
            check(e.body and e.body.get("message"), f"error body parsed: {e.body!r}")
        else:
            raise AssertionError("no AuthenticationError")


@test
def openai_unknown_model_is_not_found():
    client = openai_client()
    try:
        client.chat.completions.create(
            model="no-such-model", messages=[user("hi")], extra_headers=track_refused("o-404", 404, "not_found_error")
        )
    except openai.NotFoundError as e:
        eq(e.status_code, 404, "status")
        eq(e.code, "model_not_found", "code")
        check("no-such-model" in e.message, e.message)
    else:
        raise AssertionError("no NotFoundError")


@test
def openai_bad_request():
    client = openai_client()
    try:
        client.post(
            "/chat/completions",
            cast_to=object,
            body={"model": GPT},
            options={"headers": track_refused("o-400", 400, "invalid_request_error")},
        )
    except openai.BadRequestError as e:
        eq(e.status_code, 400, "status without messages")
        eq(e.type, "invalid_request_error", "type")
        check("messages" in e.message, f"message names the field: {e.message}")
    else:
        raise AssertionError("no BadRequestError without messages")
    try:
        client.chat.completions.create(model=GPT, messages=[user("hi")], max_tokens=-5)
    except openai.BadRequestError as e:
        eq(e.status_code, 400, "status for max_tokens=-5")
    else:
        raise AssertionError("no BadRequestError for max_tokens=-5")


# ================================ Gateway surface ==============================================


@test
def gateway_probe_routes():
    with httpx.Client(timeout=10, trust_env=False) as h:
        r = h.head(GATEWAY_URL + "/")  # Claude Code's reachability probe
        check(200 <= r.status_code < 300, f"HEAD / -> {r.status_code}")
        eq(h.get(GATEWAY_URL + "/health").status_code, 200, "GET /health")


@test
def unsupported_endpoints_are_dialect_shaped_404s():
    """Endpoints Tollgate does not serve still fail the way each SDK can parse."""
    try:
        anthropic_client().messages.batches.list()
    except anthropic.NotFoundError as e:
        eq(e.body["error"]["type"], "not_found_error", "anthropic error type")
    else:
        raise AssertionError("no NotFoundError for messages.batches.list()")
    try:
        openai_client().embeddings.create(model="text-embedding-3-small", input="hi")
    except openai.NotFoundError as e:
        check(e.message, "openai error message")
    else:
        raise AssertionError("no NotFoundError for embeddings.create()")


@test
def openai_base_url_without_v1():
    """Some OpenAI-compatible clients are configured with the bare host; Tollgate serves
    /chat/completions there too."""
    client = openai_client(base_url=GATEWAY_URL)
    resp = client.chat.completions.create(
        model=GPT, messages=[user("no v1")], extra_headers=track("o-nov1", "chat_completions", GPT, False)
    )
    eq(resp.choices[0].message.content, REPLY_PREFIX + "no v1", "content")


@test.known_issue
def openai_models_without_v1():
    """...but not /models, so such a client can chat and cannot list models."""
    ids = [m.id for m in openai_client(base_url=GATEWAY_URL).models.list()]
    check(GPT in ids, f"models at /models: {ids}")


@test.known_issue
def anthropic_models_list_honours_limit():
    page = anthropic_client().models.list(limit=2)
    eq(len(page.data), 2, "models in a page of limit=2 (has_more=%s)" % page.has_more)


@test.known_issue
def models_lists_offer_only_models_the_dialect_can_serve():
    """GET /v1/models in Anthropic shape lists gpt-*/o3-* too, which /v1/messages then refuses
    with 400 (no translation between dialects); the OpenAI-shaped list has the same problem the
    other way round. A model picker fed from the list offers models that cannot work."""
    a_ids = [m.id for m in anthropic_client().models.list()]
    unusable = []
    for model in a_ids:
        try:
            anthropic_client().messages.create(model=model, max_tokens=8, messages=[user("probe")])
        except anthropic.BadRequestError as e:
            unusable.append(f"{model}: 400 {e.body['error']['message'][:80]}")
    o_ids = [m.id for m in openai_client().models.list()]
    for model in o_ids:
        try:
            openai_client().chat.completions.create(model=model, messages=[user("probe")])
        except openai.BadRequestError as e:
            unusable.append(f"{model} (openai list): 400 {e.message[:60]}")
    check(not unusable, f"listed but refused: {unusable}")


@test
def streams_closed_early_by_the_client():
    """A client that stops reading mid-stream (Claude Code when the user presses Esc): the
    gateway records the exchange and serves on. When the gateway notices the close before the
    stream ended, the row is a 499 / client_closed, and it must still hold what the client was
    sent: the response body so far and, for Anthropic, the usage of message_start (the provider
    bills those input tokens). Whether the close wins the race with the end of the (short) mock
    stream varies, so each dialect tries a few times."""
    tries = 10
    rids = []
    for i in range(tries):
        rid_a, rid_o = new_request_id(f"a-early{i}"), new_request_id(f"o-early{i}")
        rids += [rid_a, rid_o]
        with anthropic_client().messages.stream(
            model=CLAUDE, max_tokens=256, messages=[user("close early " * 40)], extra_headers={"x-request-id": rid_a}
        ) as s:
            for _event in s:
                break
        stream = openai_client().chat.completions.create(
            model=GPT,
            messages=[user("close early " * 40)],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-request-id": rid_o},
        )
        next(iter(stream))
        stream.close()
    msg = anthropic_client().messages.create(
        model=CLAUDE, max_tokens=16, messages=[user("still there?")],
        extra_headers=track("a-after-early", "messages", CLAUDE, False),
    )
    eq(a_text(msg), REPLY_PREFIX + "still there?", "next request served")
    rows, missing = wait_for_rows(rids)
    check(not missing, f"early-closed streams recorded: missing {missing}")
    problems, closed = [], 0
    for rid in rids:
        row = rows[rid]
        log("early close:", describe_row(row))
        if row["status"] == 200:
            continue
        closed += 1
        if (row["status"], row["outcome"]) != (499, "client_closed"):
            problems.append(f"{rid}: status {row['status']} outcome {row['outcome']}")
            continue
        lacking = []
        if not row["response_body"]:
            lacking.append("no response body, though the client was sent bytes (ttfb_ms=%s)" % row["ttfb_ms"])
        if row["endpoint"] == "messages" and row["input_tokens"] + row["cache_read_tokens"] <= 0:
            lacking.append("0 input tokens, though message_start (with usage) was relayed")
        if row["endpoint"] == "messages" and not row["model_served"]:
            lacking.append("no model_served")
        if lacking:
            problems.append(f"{rid}: {'; '.join(lacking)}")
    print(f"     {closed} of {len(rids)} early-closed streams were cut off at the gateway (499)")
    check(not problems, "client-closed streams lose what was metered:\n  " + "\n  ".join(problems))


# ================================ Parity: direct vs through Tollgate ===========================

_ID = re.compile(r"^(msg|toolu|call|chatcmpl|req)[_-][A-Za-z0-9]+$")


def _normalize(value):
    """Ids and clocks differ between any two calls; everything else must not."""
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items() if k not in ("created", "system_fingerprint")}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, str) and _ID.match(value):
        return "<id>"
    return value


def _diff(a, b, path="$") -> list[str]:
    if type(a) is not type(b):
        return [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: direct={a.get(k, '<absent>')!r} gateway={b.get(k, '<absent>')!r}")
            else:
                out += _diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}: direct={a!r:.600} gateway={b!r:.600}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: direct={a!r} gateway={b!r}"]


def _same(direct, gateway, what: str) -> None:
    diffs = _diff(_normalize(direct), _normalize(gateway))
    if diffs:
        raise AssertionError(f"{what} differs direct vs gateway:\n  " + "\n  ".join(diffs[:15]))


def _requires_mock():
    check(MOCK_URL, "MOCK_URL not set")


@test
def parity_anthropic():
    _requires_mock()
    direct = anthropic_client(base_url=MOCK_URL, api_key="dummy")
    gateway = anthropic_client()
    cases = [
        dict(messages=[user("parity")]),
        dict(messages=[user("parity tools")], tools=A_TOOLS),
        dict(messages=[user("parity [[parallel]]")], tools=A_TOOLS),
        dict(messages=[user("parity thinking")], thinking={"type": "enabled", "budget_tokens": 1024}, tools=A_TOOLS),
        dict(messages=[user("parity system")], system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]),
        dict(messages=[user("héllo wörld — 你好，世界 🎉🚀 ünïcödé ∑ " * 4)]),
        dict(
            messages=[user("all the knobs")],
            tools=A_TOOLS,
            tool_choice={"type": "tool", "name": "get_time"},
            stop_sequences=["END"],
            metadata={"user_id": "e2e-user"},
            service_tier="auto",
            # Sampling knobs this SDK version no longer types, and a field nobody knows: all
            # must reach the provider as sent.
            extra_body={"temperature": 0.3, "top_k": 5, "x_e2e_unknown_field": {"kept": True}},
        ),
        dict(messages=[user("a big one " + "lorem ipsum dolor sit amet " * 40000)]),
    ]
    for i, case in enumerate(cases):
        args = dict(model=CLAUDE, max_tokens=2048, **case)
        d = direct.messages.create(**args).model_dump()
        g = gateway.messages.create(**args, extra_headers=track(f"p-a{i}", "messages", CLAUDE, False)).model_dump()
        _same(d, g, f"non-streaming case {i}")
        d_events = [e.model_dump() for e in direct.messages.create(**args, stream=True)]
        g_events = [
            e.model_dump()
            for e in gateway.messages.create(**args, stream=True, extra_headers=track(f"p-as{i}", "messages", CLAUDE, True))
        ]
        _same(d_events, g_events, f"streaming case {i}")
    d = direct.messages.count_tokens(model=CLAUDE, messages=[user("parity count")], tools=A_TOOLS)
    g = gateway.messages.count_tokens(
        model=CLAUDE,
        messages=[user("parity count")],
        tools=A_TOOLS,
        extra_headers=track("p-count", "count_tokens", CLAUDE, False, output=False),
    )
    _same(d.model_dump(), g.model_dump(), "count_tokens")


@test
def parity_openai():
    _requires_mock()
    direct = openai_client(base_url=MOCK_URL + "/v1", api_key="dummy")
    gateway = openai_client()
    cases = [
        dict(messages=[user("parity")]),
        dict(messages=[{"role": "system", "content": "be brief"}, user("parity system")], temperature=0.2, max_tokens=100),
        dict(messages=[user("parity tools")], tools=O_TOOLS),
        dict(messages=[user("parity [[parallel]]")], tools=O_TOOLS),
        dict(messages=[user("héllo wörld — 你好，世界 🎉🚀 ünïcödé ∑ " * 4)]),
        dict(
            messages=[user("all the knobs")],
            tools=O_TOOLS,
            tool_choice={"type": "function", "function": {"name": "get_time"}},
            parallel_tool_calls=False,
            temperature=0.3,
            top_p=0.9,
            seed=7,
            stop=["END"],
            user="e2e-user",
            max_completion_tokens=100,
            extra_body={"x_e2e_unknown_field": {"kept": True}},
        ),
    ]
    for i, case in enumerate(cases):
        args = dict(model=GPT, **case)
        d = direct.chat.completions.create(**args).model_dump()
        g = gateway.chat.completions.create(**args, extra_headers=track(f"p-o{i}", "chat_completions", GPT, False)).model_dump()
        _same(d, g, f"non-streaming case {i}")
        for usage in (True, False):
            extra = dict(stream_options={"include_usage": True}) if usage else {}
            d_chunks = [c.model_dump() for c in direct.chat.completions.create(**args, stream=True, **extra)]
            g_chunks = [
                c.model_dump()
                for c in gateway.chat.completions.create(
                    **args,
                    stream=True,
                    **extra,
                    extra_headers=track(f"p-os{i}{int(usage)}", "chat_completions", GPT, True),
                )
            ]
            _same(d_chunks, g_chunks, f"streaming case {i} (include_usage={usage})")


@test
def parity_raw_sse_bytes():
    """Below the SDKs: the SSE body through the gateway is the upstream's, event for event
    (ids aside), for both dialects."""
    _requires_mock()

    def events(base, path, headers, body):
        with httpx.Client(timeout=30) as h:
            r = h.post(base + path, headers=headers, json=body)
            eq(r.status_code, 200, f"status from {base}")
            text = r.text
        blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
        return [re.sub(r'"(msg|toolu|call|chatcmpl)[_-][A-Za-z0-9]+"', '"<id>"', re.sub(r'"created":\d+', "", b)) for b in blocks]

    a_body = {"model": CLAUDE, "max_tokens": 256, "stream": True, "messages": [user("raw parity")], "tools": A_TOOLS}
    a_headers = {"anthropic-version": "2023-06-01", "x-api-key": KEY}
    d = events(MOCK_URL, "/v1/messages", a_headers, a_body)
    g = events(GATEWAY_URL, "/v1/messages", {**a_headers, **track("p-raw-a", "messages", CLAUDE, True)}, a_body)
    _same(d, g, "anthropic SSE events")
    o_body = {"model": GPT, "stream": True, "messages": [user("raw parity")], "stream_options": {"include_usage": True}}
    o_headers = {"authorization": f"Bearer {KEY}"}
    d = events(MOCK_URL, "/v1/chat/completions", o_headers, o_body)
    g = events(GATEWAY_URL, "/v1/chat/completions", {**o_headers, **track("p-raw-o", "chat_completions", GPT, True)}, o_body)
    _same(d, g, "openai SSE events")


# ================================ History =====================================================


def history_records_every_successful_exchange():
    check(DB_PATH and os.path.exists(DB_PATH), f"history database {DB_PATH!r} exists")
    ids = [e[0] for e in EXPECTED]
    rows, missing = wait_for_rows(ids)
    problems = []
    if missing:
        problems.append(f"{len(missing)} of {len(ids)} successful exchanges missing from history, e.g. {missing[:5]}")
    for rid, endpoint, model, stream, output in EXPECTED:
        row = rows.get(rid)
        if row is None:
            continue
        bad = []
        if row["status"] != 200:
            bad.append(f"status {row['status']}")
        if row["outcome"] != "ok":
            bad.append(f"outcome {row['outcome']}")
        if row["endpoint"] != endpoint:
            bad.append(f"endpoint {row['endpoint']!r} != {endpoint!r}")
        if row["model_requested"] != model:
            bad.append(f"model {row['model_requested']!r} != {model!r}")
        if bool(row["stream"]) != stream:
            bad.append(f"stream {row['stream']} != {stream}")
        if endpoint == "count_tokens":
            # Counting is not usage: the gateway deliberately meters nothing for it.
            pass
        elif row["input_tokens"] + row["cache_read_tokens"] + row["cache_write_tokens"] <= 0:
            bad.append("no input tokens")
        if output and row["output_tokens"] <= 0:
            bad.append("no output tokens")
        if not row["request_body"]:
            bad.append("no request body")
        if not row["response_body"]:
            bad.append("no response body")
        if bad:
            problems.append(f"{rid}: {', '.join(bad)}  row={describe_row(row)}")
    print(f"     history: {len(rows)}/{len(ids)} successful SDK exchanges found")
    refused_rows, refused_missing = wait_for_rows([r[0] for r in REFUSED])
    if refused_missing:
        problems.append(f"refused exchanges missing from history: {refused_missing}")
    for rid, status, error_type in REFUSED:
        row = refused_rows.get(rid)
        if row and (row["status"], row["outcome"], row["error_type"]) != (status, "rejected", error_type):
            problems.append(f"{rid}: expected {status}/rejected/{error_type}, row={describe_row(row)}")
    if problems:
        raise AssertionError(f"{len(problems)} history problems:\n  " + "\n  ".join(problems[:20]))


if __name__ == "__main__":
    print(f"anthropic {anthropic.__version__}, openai {openai.__version__}, gateway {GATEWAY_URL}")
    sys.exit(test.run("sdks", finish=history_records_every_successful_exchange))
