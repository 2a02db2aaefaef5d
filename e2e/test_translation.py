"""Translation end to end: the official SDKs (Anthropic Messages, OpenAI Chat Completions, OpenAI
Responses) run a three-turn tool loop with thinking through Tollgate against every provider
dialect the mock speaks (Anthropic, OpenAI Chat, OpenAI Responses, Gemini, Ollama), streaming
and not.

Turn 1 asks a question with a tool on offer: the model (the mock) thinks and calls the tool.
Turn 2 sends the tool result back, with the assistant turn exactly as the SDK handed it over:
the model thinks and answers. Turn 3 asks again with the whole history: another tool call. The
mock upstreams validate requests as strictly as the real APIs (block order, tool pairing,
thinking signatures), so a translation that loses or mangles anything fails a later turn.

Run by e2e/run.sh (suite `translation`).
"""

from __future__ import annotations

import json
import os

for _name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(_name, None)

import warnings  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

import anthropic  # noqa: E402
import openai  # noqa: E402

from common import GATEWAY_URL, KEY, REPLY_PREFIX, Tests, check, eq, log  # noqa: E402

test = Tests()

# One model per provider dialect, as the gateway's e2e config names them (run.sh).
TARGETS = {
    "anthropic": "claude-sonnet-4-5-20250929",
    "openai_chat": "openai:gpt-4o",
    "openai_responses": "openai-responses:gpt-5",
    "gemini": "gemini-2.5-flash",
    "ollama": "ollama-native:qwen3",
}

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}

A = anthropic.Anthropic(base_url=GATEWAY_URL, api_key=KEY, max_retries=0)
O = openai.OpenAI(base_url=GATEWAY_URL + "/v1", api_key=KEY, max_retries=0)


def anthropic_loop(model: str, stream: bool) -> None:
    tools = [{"name": WEATHER["name"], "description": WEATHER["description"],
              "input_schema": WEATHER["schema"]}]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    messages: list[dict] = [{"role": "user", "content": "What's the weather in Paris?"}]

    def call() -> anthropic.types.Message:
        kw = dict(model=model, max_tokens=4096, tools=tools, thinking=thinking, messages=messages)
        if stream:
            with A.messages.stream(**kw) as s:
                return s.get_final_message()
        return A.messages.create(**kw)

    first = call()
    eq(first.stop_reason, "tool_use", "turn 1 stop_reason")
    types = [b.type for b in first.content]
    check(types[-1] == "tool_use", f"tool_use last: {types}")
    if model != TARGETS["openai_chat"]:  # the OpenAI Chat mock does not reason
        check(types[0] in ("thinking", "redacted_thinking"), f"thinking first: {types}")
    use = next(b for b in first.content if b.type == "tool_use")
    eq(use.name, "get_weather", "tool name")
    check("city" in use.input, f"tool input {use.input}")
    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": use.id, "content": "18C and sunny"}]})
    second = call()
    eq(second.stop_reason, "end_turn", "turn 2 stop_reason")
    text = "".join(b.text for b in second.content if b.type == "text")
    check(text.startswith(REPLY_PREFIX), f"turn 2 text {text!r}")
    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in second.content]})
    messages.append({"role": "user", "content": "And in Lyon?"})
    third = call()
    eq(third.stop_reason, "tool_use", "turn 3 stop_reason")
    log(model, "anthropic", [b.type for b in first.content], [b.type for b in second.content])


def chat_loop(model: str, stream: bool) -> None:
    tools = [{"type": "function", "function": {"name": WEATHER["name"],
              "description": WEATHER["description"], "parameters": WEATHER["schema"]}}]
    messages: list[dict] = [{"role": "user", "content": "What's the weather in Paris?"}]

    def call() -> tuple[dict, str]:
        kw = dict(model=model, messages=messages, tools=tools, reasoning_effort="low")
        if not stream:
            r = O.chat.completions.create(**kw)
            m = r.choices[0].message
            msg = {"role": "assistant", "content": m.content}
            if m.tool_calls:
                msg["tool_calls"] = [tc.model_dump() for tc in m.tool_calls]
            return msg, r.choices[0].finish_reason
        content, calls, finish = "", {}, None
        for chunk in O.chat.completions.create(stream=True, **kw):
            if not chunk.choices:
                continue
            ch = chunk.choices[0]
            content += ch.delta.content or ""
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "type": "function",
                                                   "function": {"name": "", "arguments": ""}})
                slot["id"] = tc.id or slot["id"]
                if tc.function:
                    slot["function"]["name"] += tc.function.name or ""
                    slot["function"]["arguments"] += tc.function.arguments or ""
            finish = ch.finish_reason or finish
        msg = {"role": "assistant", "content": content or None}
        if calls:
            msg["tool_calls"] = [calls[i] for i in sorted(calls)]
        return msg, finish

    first, finish = call()
    eq(finish, "tool_calls", "turn 1 finish_reason")
    call0 = first["tool_calls"][0]
    eq(call0["function"]["name"], "get_weather", "tool name")
    check("city" in json.loads(call0["function"]["arguments"]), f"arguments {call0}")
    messages.append(first)
    messages.append({"role": "tool", "tool_call_id": call0["id"], "content": "18C and sunny"})
    second, finish = call()
    eq(finish, "stop", "turn 2 finish_reason")
    check((second["content"] or "").startswith(REPLY_PREFIX), f"turn 2 text {second['content']!r}")
    messages.append(second)
    messages.append({"role": "user", "content": "And in Lyon?"})
    _, finish = call()
    eq(finish, "tool_calls", "turn 3 finish_reason")


def responses_loop(model: str, stream: bool) -> None:
    tools = [{"type": "function", "name": WEATHER["name"], "description": WEATHER["description"],
              "parameters": WEATHER["schema"]}]
    items: list = [{"role": "user", "content": "What's the weather in Paris?"}]

    def call():
        kw = dict(model=model, input=items, tools=tools, reasoning={"effort": "low"},
                  store=False, include=["reasoning.encrypted_content"])
        if stream:
            with O.responses.stream(**kw) as s:
                return s.get_final_response()
        return O.responses.create(**kw)

    first = call()
    eq(first.status, "completed", "turn 1 status")
    if model != TARGETS["openai_chat"]:
        reasoning = [o for o in first.output if o.type == "reasoning"]
        check(reasoning and reasoning[0].encrypted_content, f"a replayable reasoning item: {first.output}")
    calls = [o for o in first.output if o.type == "function_call"]
    check(calls, f"turn 1 output {[o.type for o in first.output]}")
    eq(calls[0].name, "get_weather", "tool name")
    check("city" in json.loads(calls[0].arguments), f"arguments {calls[0].arguments}")
    items.extend(o.model_dump(exclude_none=True) for o in first.output)
    items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "18C and sunny"})
    second = call()
    eq(second.status, "completed", "turn 2 status")
    check(second.output_text.startswith(REPLY_PREFIX), f"turn 2 text {second.output_text!r}")
    items.extend(o.model_dump(exclude_none=True) for o in second.output)
    items.append({"role": "user", "content": "And in Lyon?"})
    third = call()
    check(any(o.type == "function_call" for o in third.output), "turn 3 calls the tool")


def previous_response_loop(model: str) -> None:
    tools = [{"type": "function", "name": WEATHER["name"], "parameters": WEATHER["schema"]}]
    first = O.responses.create(model=model, input="What's the weather in Paris?", tools=tools)
    call = next(o for o in first.output if o.type == "function_call")
    second = O.responses.create(model=model, previous_response_id=first.id, tools=tools,
                                input=[{"type": "function_call_output", "call_id": call.call_id,
                                        "output": "18C and sunny"}])
    check(second.output_text.startswith(REPLY_PREFIX), f"turn 2 text {second.output_text!r}")


def register(client: str, loop, provider: str, model: str, stream: bool) -> None:
    def fn() -> None:
        loop(model, stream)
    fn.__name__ = f"{client}_to_{provider}_{'stream' if stream else 'whole'}"
    test(fn)


for provider, model in TARGETS.items():
    for stream in (True, False):
        register("anthropic", anthropic_loop, provider, model, stream)
        register("chat", chat_loop, provider, model, stream)
        register("responses", responses_loop, provider, model, stream)

for provider in ("anthropic", "openai_chat", "gemini", "ollama"):
    def fn(model: str = TARGETS[provider]) -> None:
        previous_response_loop(model)
    fn.__name__ = f"responses_previous_response_id_to_{provider}"
    test(fn)

if __name__ == "__main__":
    raise SystemExit(test.run("translation"))
