//! Whole requests and responses between the OpenAI Responses API and the canonical model.
//!
//! - `decode`: a client's `POST /v1/responses` body -> canonical request.
//! - `encode`: canonical request -> a Responses provider's request body.
//! - `response`: a provider's Response object -> canonical response, and canonical response ->
//!   the Response object a client gets.
//!
//! State (`previous_response_id`, `store`) is not kept here: the fields travel in `extra` and
//! [`previous_response_id`] reads them for the server, which owns conversation storage.

mod decode;
pub(crate) mod encode;
pub(crate) mod response;

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::object;
use super::seal::Sealer;
use super::wire::{self, flat_name};
use crate::InvalidBody;
use crate::canonical::{Note, Request, Response, Target};

/// How to decode a Responses request.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Opens the reasoning items Tollgate sealed. Without it every reasoning item stays opaque
    /// (replayable to OpenAI only).
    pub sealer: Option<Sealer>,
}

/// A request body in this dialect, decoded. Sealed reasoning stays opaque; see
/// [`decode_request_with`].
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidBody> {
    decode_request_with(body, &DecodeOptions::default())
}

/// A request body decoded with options: reasoning items whose `encrypted_content` the sealer
/// opens become the thinking blocks they carry, with their origins.
pub fn decode_request_with(body: &[u8], opts: &DecodeOptions) -> Result<Request, InvalidBody> {
    decode::decode(body, opts)
}

/// The `previous_response_id` of a decoded Responses request: the server must resolve it from
/// its own store, or refuse it, before the request goes to a stateless provider (51).
pub fn previous_response_id(req: &Request) -> Option<&str> {
    req.extra.fields.get("previous_response_id").and_then(Value::as_str)
}

/// A canonical request written for a provider of this dialect. Fields it cannot carry are
/// dropped and noted.
pub fn encode_request(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    if req.ends_in_prefill() {
        notes.push(crate::canonical::prefill_note("OpenAI Responses"));
    }
    if let Some(n) = req.document_extras_note("OpenAI Responses") {
        notes.push(n);
    }
    encode::encode(req, target, notes)
}

/// A whole response body in this dialect, decoded.
pub fn decode_response(body: &[u8]) -> Result<Response, InvalidBody> {
    response::decode(body)
}

/// A canonical response written for a client of this dialect, with default options (no
/// sealer: thinking is shown as a reasoning summary but not sealed, and that is noted).
pub fn encode_response(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    encode_response_with(resp, &ResponseOptions::default(), notes)
}

/// A canonical response written for a client of this dialect.
pub fn encode_response_with(
    resp: &Response,
    opts: &ResponseOptions,
    notes: &mut Vec<Note>,
) -> Vec<u8> {
    response::encode(resp, opts, notes)
}

/// What writing a response for a Responses client needs beyond the canonical response: its id
/// and time (the caller's clock), how the client declared its tools, the sealer for thinking,
/// and the request fields the Response object echoes.
#[derive(Debug, Clone, Default)]
pub struct ResponseOptions {
    /// `resp_...`. Empty: derived from the upstream message id.
    pub response_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Tools the client declared as `custom` (freeform): their calls are written as
    /// `custom_tool_call` items with the raw text input.
    pub custom_tools: Vec<String>,
    /// Functions the client declared inside `namespace` tools, flattened in the canonical model.
    pub namespaced_tools: Vec<NamespacedTool>,
    /// When set, each run of thinking and redacted-thinking blocks becomes one reasoning item
    /// whose `encrypted_content` seals them for replay; when not, the item carries the summary
    /// only (the client cannot replay it) and that is noted.
    pub sealer: Option<Sealer>,
    pub previous_response_id: Option<String>,
    /// Request fields the Response object echoes (`instructions`, `tools`, `tool_choice`,
    /// `parallel_tool_calls`, `reasoning`, `store`, ...), as the client sent them.
    pub echo: Map<String, Value>,
}

/// A function of a client's `namespace` tool: the canonical model's flat name for it, and how
/// the client names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacedTool {
    pub flat: String,
    pub namespace: String,
    pub name: String,
}

impl ResponseOptions {
    /// What a client's request body implies for its response: custom and namespaced tools, the
    /// `previous_response_id` and the echoed fields. Id, time and sealer are the caller's to
    /// set. A body that does not parse gives the defaults (the request was validated earlier).
    pub fn for_request(body: &[u8]) -> ResponseOptions {
        let mut opts = ResponseOptions::default();
        let Ok(fields) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(body) else {
            return opts;
        };
        for key in object::echo_keys() {
            if let Some(v) = fields.get(key).map(|raw| wire::value(raw)).filter(|v| !v.is_null()) {
                opts.echo.insert(key.to_owned(), v);
            }
        }
        opts.previous_response_id = fields
            .get("previous_response_id")
            .and_then(|raw| wire::parse::<Option<String>>(raw, "previous_response_id").ok())
            .flatten();
        if let Some(raw) = fields.get("tools")
            && let Ok(tools) = wire::parse::<Vec<Box<RawValue>>>(raw, "tools")
        {
            for tool in &tools {
                collect_tool(tool, None, &mut opts);
            }
        }
        opts
    }
}

fn collect_tool(raw: &RawValue, namespace: Option<&str>, opts: &mut ResponseOptions) {
    match (wire::head(raw).kind.as_deref(), namespace) {
        (Some("namespace"), None) => {
            if let Ok(ns) = wire::parse::<wire::NamespaceTool>(raw, "tools") {
                for tool in &ns.tools {
                    collect_tool(tool, Some(&ns.name), opts);
                }
            }
        }
        (Some(kind @ ("function" | "custom")), ns) => {
            let Ok(Named { name }) = wire::parse::<Named>(raw, "tools") else { return };
            let flat = flat_name(ns, &name);
            if kind == "custom" {
                opts.custom_tools.push(flat.clone());
            }
            if let Some(ns) = ns {
                opts.namespaced_tools.push(NamespacedTool { flat, namespace: ns.to_owned(), name });
            }
        }
        _ => {}
    }
}

#[derive(serde::Deserialize)]
struct Named {
    name: String,
}

#[cfg(test)]
mod tests;
