//! Whole Response objects: a provider's decoded into a canonical response, and a canonical
//! response encoded as the Response object a Responses client (Codex) gets.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::ResponseOptions;
use super::decode::arguments;
use super::encode::custom_input;
use crate::canonical::target::model_family;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Note, Opaque, Origin, Response, StopReason, TextBlock,
    ThinkingBlock, ToolUse,
};
use crate::responses::object::{self, Call, Shell};
use crate::responses::wire::{
    self, CustomToolCallItem, FunctionCallItem, MessageItem, ResponseBody, StrOrList, TextPart,
    flat_name, parse,
};
use crate::{Dialect, InvalidBody};

pub(super) fn decode(body: &[u8]) -> Result<Response, InvalidBody> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let body: ResponseBody =
        serde_path_to_error::deserialize(&mut de).map_err(InvalidBody::from_serde)?;
    if body.status.as_deref() == Some("failed") {
        let message = body.error.map(|e| e.text()).unwrap_or_default();
        return Err(InvalidBody::new(
            Some("status".into()),
            format!("the upstream response failed: {message}"),
        ));
    }
    let mut content = Vec::new();
    for (i, item) in body.output.iter().enumerate() {
        output_item(item, &format!("output[{i}]"), &body.model, &mut content)?;
    }
    let stop_reason = match body.status.as_deref() {
        Some("incomplete") => {
            Some(incomplete_reason(body.incomplete_details.and_then(|d| d.reason).as_deref()))
        }
        _ if content.iter().any(|b| matches!(b, Block::ToolUse(_))) => Some(StopReason::ToolUse),
        _ => Some(StopReason::EndTurn),
    };
    Ok(Response {
        id: body.id,
        model: body.model,
        content,
        stop_reason,
        stop_sequence: None,
        usage: body.usage.map(|u| u.canonical()).unwrap_or_default(),
    })
}

/// `incomplete_details.reason` as a stop reason.
pub(crate) fn incomplete_reason(reason: Option<&str>) -> StopReason {
    match reason {
        Some("max_output_tokens") | None => StopReason::MaxTokens,
        Some("content_filter") => StopReason::Refusal,
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

/// One output item as canonical blocks. A reasoning item is two: its summary as thinking
/// (shown to clients; no signature, it is not replayable by itself) and the item itself as an
/// opaque block, which is what goes back to OpenAI.
pub(crate) fn output_item(
    raw: &RawValue,
    path: &str,
    model: &str,
    out: &mut Vec<Block>,
) -> Result<(), InvalidBody> {
    match wire::head(raw).kind.as_deref() {
        Some("message") => {
            let message: MessageItem = parse(raw, path)?;
            if let StrOrList::List(parts) =
                wire::str_or_list(&message.content, &format!("{path}.content"))?
            {
                for (j, part) in parts.iter().enumerate() {
                    let part: TextPart = parse(part, &format!("{path}.content[{j}]"))?;
                    if let Some(text) = part.text.or(part.refusal) {
                        out.push(Block::Text(TextBlock::new(text)));
                    }
                }
            }
        }
        Some("function_call") => {
            let call: FunctionCallItem = parse(raw, path)?;
            out.push(Block::ToolUse(ToolUse {
                id: call.call_id,
                name: flat_name(call.namespace.as_deref(), &call.name),
                input: arguments(&call.arguments),
                cache_control: None,
            }));
        }
        Some("custom_tool_call") => {
            let call: CustomToolCallItem = parse(raw, path)?;
            let mut input = Map::new();
            input.insert(CUSTOM_INPUT_FIELD.into(), Value::String(call.input));
            out.push(Block::ToolUse(ToolUse {
                id: call.call_id,
                name: flat_name(call.namespace.as_deref(), &call.name),
                input: Value::Object(input),
                cache_control: None,
            }));
        }
        Some("reasoning") => {
            let value = wire::value(raw);
            let summary = summary_text(&value);
            if !summary.is_empty() {
                out.push(Block::Thinking(ThinkingBlock {
                    thinking: summary,
                    signature: None,
                    origin: Some(summary_origin(model)),
                }));
            }
            out.push(Block::Opaque(Opaque { dialect: Dialect::OpenAiResponses, value }));
        }
        _ => out.push(Block::Opaque(Opaque {
            dialect: Dialect::OpenAiResponses,
            value: wire::value(raw),
        })),
    }
    Ok(())
}

/// Who issued a reasoning summary shown as thinking: marked as this dialect's, never a provider
/// name, so history repair strips it before any provider (no one can take unsigned thinking
/// back). The server may overwrite it with the configured provider name.
pub(crate) fn summary_origin(model: &str) -> Origin {
    Origin { provider: Dialect::OpenAiResponses.as_str().to_owned(), family: model_family(model) }
}

/// A reasoning item's summary parts joined as one text.
pub(crate) fn summary_text(item: &Value) -> String {
    let parts: Vec<&str> = item
        .get("summary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    parts.join("\n\n")
}

pub(super) fn encode(resp: &Response, opts: &ResponseOptions, notes: &mut Vec<Note>) -> Vec<u8> {
    let rid = object::response_id(opts, &resp.id);
    let mut output: Vec<Value> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut thinking: Vec<Block> = Vec::new();
    let mut unsealed = false;

    // Runs of text become one message item, runs of thinking one reasoning item.
    let flush_text = |texts: &mut Vec<String>, output: &mut Vec<Value>| {
        if !texts.is_empty() {
            let id = object::item_id("msg", &rid, output.len());
            output.push(object::message_item(&id, "completed", texts));
            texts.clear();
        }
    };
    let mut flush_thinking = |thinking: &mut Vec<Block>, output: &mut Vec<Value>| {
        if thinking.is_empty() {
            return;
        }
        let (summaries, sealed) = match &opts.sealer {
            Some(sealer) => reasoning_parts(thinking, sealer),
            None => {
                unsealed = true;
                (summaries(thinking), None)
            }
        };
        if !summaries.is_empty() || sealed.is_some() {
            let id = object::item_id("rs", &rid, output.len());
            output.push(object::reasoning_item(&id, &summaries, sealed.as_deref()));
        }
        thinking.clear();
    };

    for block in &resp.content {
        match block {
            Block::Text(t) => {
                flush_thinking(&mut thinking, &mut output);
                texts.push(t.text.clone());
            }
            Block::Thinking(_) | Block::RedactedThinking(_) => {
                flush_text(&mut texts, &mut output);
                thinking.push(block.clone());
            }
            Block::ToolUse(call) => {
                flush_text(&mut texts, &mut output);
                flush_thinking(&mut thinking, &mut output);
                let (namespace, name) = object::call_name(&opts.namespaced_tools, &call.name);
                let custom = opts.custom_tools.contains(&call.name);
                let id = object::item_id(if custom { "ctc" } else { "fc" }, &rid, output.len());
                let item =
                    Call { id: &id, call_id: &call.id, namespace, name, status: "completed" };
                output.push(if custom {
                    object::custom_call_item(&item, &custom_input(&call.input))
                } else {
                    object::function_call_item(&item, &call.input.to_string())
                });
            }
            Block::Opaque(o) if o.dialect == Dialect::OpenAiResponses => {
                flush_text(&mut texts, &mut output);
                flush_thinking(&mut thinking, &mut output);
                output.push(o.value.clone());
            }
            Block::Opaque(o) => match foreign_item(o) {
                Some(item) => {
                    flush_text(&mut texts, &mut output);
                    flush_thinking(&mut thinking, &mut output);
                    output.push(item);
                }
                None => notes.push(Note::new(format!(
                    "a {} block dropped: a Responses client cannot take it",
                    o.dialect
                ))),
            },
            Block::Image(_) | Block::Document(_) | Block::ToolResult(_) => {
                notes.push(Note::new("a non-output block in the answer dropped"));
            }
        }
    }
    flush_text(&mut texts, &mut output);
    flush_thinking(&mut thinking, &mut output);
    if unsealed {
        notes.push(Note::new("thinking not sealed: no sealer, the client cannot replay it"));
    }

    let (status, reason) = object::status(resp.stop_reason.as_ref());
    let shell = Shell {
        id: &rid,
        model: &resp.model,
        status,
        incomplete_reason: reason,
        error: None,
        output,
        usage: Some(object::usage(&resp.usage)),
    };
    serde_json::to_vec(&object::response(shell, opts)).unwrap_or_default()
}

/// The summaries a client shows for a run of thinking blocks, and the seal of the blocks a
/// provider can take back (signed thinking, redacted thinking). Unsigned thinking (another
/// provider's summaries) is shown but not sealed: no provider would accept it back.
pub(crate) fn reasoning_parts(
    blocks: &[Block],
    sealer: &crate::responses::seal::Sealer,
) -> (Vec<String>, Option<String>) {
    let sealable: Vec<Block> = blocks
        .iter()
        // Unsigned thinking with a known issuer is sealed too: its own provider (Ollama,
        // DeepSeek) can take it back; every other target drops it on the way.
        .filter(|b| match b {
            Block::Thinking(t) => t.signature.is_some() || t.origin.is_some(),
            Block::RedactedThinking(_) => true,
            _ => false,
        })
        .cloned()
        .collect();
    let sealed = (!sealable.is_empty()).then(|| sealer.seal(&sealable));
    (summaries(blocks), sealed)
}

/// The thinking texts of a run of blocks, one summary part each; signature-only blocks show
/// nothing.
fn summaries(blocks: &[Block]) -> Vec<String> {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Thinking(t) if !t.thinking.is_empty() => Some(t.thinking.clone()),
            _ => None,
        })
        .collect()
}

/// The Responses item standing for another dialect's block, where there is one: Anthropic's
/// `server_tool_use` of `web_search` is a `web_search_call` (Claude searched the web where a GPT
/// model would have). Its results block has no Responses item: Responses shows results only as
/// annotations, so it is dropped (noted by the caller).
pub(crate) fn foreign_item(o: &Opaque) -> Option<serde_json::Value> {
    let v = &o.value;
    if o.dialect != Dialect::Anthropic
        || v.get("type").and_then(serde_json::Value::as_str) != Some("server_tool_use")
        || v.get("name").and_then(serde_json::Value::as_str) != Some("web_search")
    {
        return None;
    }
    let id = v.get("id").and_then(serde_json::Value::as_str).unwrap_or_default();
    let query = v.pointer("/input/query").cloned().unwrap_or(serde_json::Value::Null);
    Some(serde_json::json!({
        "type": "web_search_call",
        "id": format!("ws_{id}"),
        "status": "completed",
        "action": {"type": "search", "query": query},
    }))
}
