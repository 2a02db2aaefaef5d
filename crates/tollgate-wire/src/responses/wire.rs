//! The Responses API's JSON shapes as this dialect's decoders read them: typed structs for the
//! items and parts Tollgate understands, and raw-JSON helpers for dispatching on `type` first.
//! Items arrive as [`RawValue`]s so an unknown item can be kept byte-faithful as an opaque value
//! and a known one parsed with a precise error path. Nothing here knows the canonical model.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::InvalidBody;

/// `type` and `role` of an item or part, read before choosing its struct.
#[derive(Deserialize, Default)]
pub(crate) struct Head {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

/// Parses `raw` as `T`, naming `path` (`input[3]`) plus the inner path in the error.
pub(crate) fn parse<T: DeserializeOwned>(raw: &RawValue, path: &str) -> Result<T, InvalidBody> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.path().to_string();
        let full = if inner == "." || inner.is_empty() {
            path.to_owned()
        } else {
            format!("{path}.{inner}")
        };
        InvalidBody::new(Some(full.clone()), format!("{full}: {}", e.into_inner()))
    })
}

pub(crate) fn head(raw: &RawValue) -> Head {
    serde_json::from_str(raw.get()).unwrap_or_default()
}

/// The raw value as a JSON tree, for opaque passthrough.
pub(crate) fn value(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

/// A field that is either a string or a list (`input`, message `content`, tool `output`).
pub(crate) enum StrOrList {
    Str(String),
    List(Vec<Box<RawValue>>),
    Null,
}

pub(crate) fn str_or_list(raw: &RawValue, path: &str) -> Result<StrOrList, InvalidBody> {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => parse::<String>(raw, path).map(StrOrList::Str),
        Some(b'[') => parse::<Vec<Box<RawValue>>>(raw, path).map(StrOrList::List),
        Some(b'n') => Ok(StrOrList::Null),
        _ => Err(InvalidBody::new(
            Some(path.to_owned()),
            format!("Invalid type for '{path}': expected a string or an array."),
        )),
    }
}

/// A message item (`{"type":"message"}` or the easy form without `type`).
#[derive(Deserialize)]
pub(crate) struct MessageItem {
    pub role: String,
    pub content: Box<RawValue>,
}

/// `input_text`, `output_text` (`annotations` are not carried), `refusal`.
#[derive(Deserialize)]
pub(crate) struct TextPart {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ImagePart {
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct FilePart {
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub file_data: Option<String>,
    #[serde(default)]
    pub file_url: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionCallItem {
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub arguments: String,
    /// Set when the function belongs to a `namespace` tool.
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CustomToolCallItem {
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub input: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `function_call_output` and `custom_tool_call_output`.
#[derive(Deserialize)]
pub(crate) struct CallOutputItem {
    pub call_id: String,
    pub output: Box<RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Deserialize)]
pub(crate) struct CustomTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub format: Option<Value>,
}

#[derive(Deserialize)]
pub(crate) struct NamespaceTool {
    pub name: String,
    #[serde(default)]
    pub tools: Vec<Box<RawValue>>,
}

/// `reasoning` request parameter.
#[derive(Deserialize, Default)]
pub(crate) struct ReasoningParam {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// `usage` of a Response object. `input_tokens` includes cached (and cache-write) tokens.
#[derive(Deserialize, Default, Clone, Copy)]
pub(crate) struct UsageBody {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
    #[serde(default)]
    pub output_tokens: u64,
}

#[derive(Deserialize, Default, Clone, Copy)]
pub(crate) struct InputDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    /// Newer responses report prompt-cache writes here.
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl UsageBody {
    /// In the canonical (Anthropic) shape: `input_tokens` without the cached parts.
    pub(crate) fn canonical(&self) -> crate::Usage {
        let details = self.input_tokens_details.unwrap_or_default();
        crate::Usage {
            input_tokens: self
                .input_tokens
                .saturating_sub(details.cached_tokens)
                .saturating_sub(details.cache_write_tokens),
            output_tokens: self.output_tokens,
            cache_read_tokens: details.cached_tokens,
            cache_write_tokens: details.cache_write_tokens,
            web_search_requests: 0,
        }
    }
}

/// The parts of a Response object the decoders read; `output` items stay raw.
#[derive(Deserialize, Default)]
pub(crate) struct ResponseBody {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    pub error: Option<ErrorBody>,
    #[serde(default)]
    pub output: Vec<Box<RawValue>>,
    #[serde(default)]
    pub usage: Option<UsageBody>,
}

#[derive(Deserialize, Default)]
pub(crate) struct IncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

/// An error object: `response.error` of a failed response, or the `error` of an `error` event.
#[derive(Deserialize, Default, Clone)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// The Anthropic error type that stands for this OpenAI error.
    pub(crate) fn anthropic_kind(&self) -> String {
        let code = self.code.as_deref().or(self.kind.as_deref()).unwrap_or_default();
        match code {
            "rate_limit_exceeded" | "rate_limit_error" => "rate_limit_error",
            "insufficient_quota" => "billing_error",
            "server_is_overloaded" | "overloaded" | "slow_down" => "overloaded_error",
            "context_length_exceeded" | "invalid_prompt" | "invalid_request_error" => {
                "invalid_request_error"
            }
            "invalid_api_key" | "authentication_error" => "authentication_error",
            _ => "api_error",
        }
        .to_owned()
    }

    pub(crate) fn text(&self) -> String {
        match (&self.message, &self.code) {
            (Some(m), _) if !m.is_empty() => m.clone(),
            (_, Some(c)) => c.clone(),
            _ => "the upstream response failed".to_owned(),
        }
    }
}

/// The flattened name a `namespace` tool's function gets in the canonical model, where tool
/// names are flat. `__` is the separator MCP-style names already use.
pub(crate) fn flat_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}__{name}"),
        _ => name.to_owned(),
    }
}
