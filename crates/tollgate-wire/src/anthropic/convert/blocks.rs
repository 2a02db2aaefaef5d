//! Content blocks between Anthropic JSON and [`Block`], both ways. Requests, responses and
//! tool-result contents share these. Unknown block types, and known ones with a shape the
//! canonical model cannot hold (an image from an unknown source kind, a document made of
//! content blocks), stay whole as [`Block::Opaque`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{note, parse_at};
use crate::InvalidBody;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Document, Image, Note, Opaque, RedactedThinking, Source, TextBlock,
    ThinkingBlock, ToolResult, ToolUse, ids,
};
use crate::dialect::Dialect;

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WText {
    text: String,
    #[serde(default)]
    cache_control: Option<Value>,
    #[serde(default)]
    citations: Option<Value>,
}

#[derive(Deserialize)]
struct WMedia {
    source: Box<RawValue>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    citations: Option<Value>,
    #[serde(default)]
    cache_control: Option<Value>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
    File { file_id: String },
    Text { media_type: String, data: String },
}

#[derive(Deserialize)]
struct WToolUse {
    id: String,
    name: String,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    cache_control: Option<Value>,
}

#[derive(Deserialize)]
struct WToolResult {
    tool_use_id: String,
    #[serde(default)]
    content: Option<Box<RawValue>>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    cache_control: Option<Value>,
}

#[derive(Deserialize)]
struct WThinking {
    #[serde(default)]
    thinking: String,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
struct WRedacted {
    data: String,
}

/// A `content` value: a string (one text block; nothing when empty) or a list of blocks.
pub(crate) fn decode_content(raw: &RawValue, path: &str) -> Result<Vec<Block>, InvalidBody> {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => {
            let text: String = parse_at(raw.get(), path)?;
            Ok(if text.is_empty() { Vec::new() } else { vec![Block::Text(TextBlock::new(text))] })
        }
        Some(b'[') => {
            let items: Vec<Box<RawValue>> = parse_at(raw.get(), path)?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| decode_block(item, &format!("{path}[{i}]")))
                .collect()
        }
        _ => Err(InvalidBody::new(
            Some(path.to_owned()),
            format!("{path}: expected a string or a list of content blocks"),
        )),
    }
}

/// One content block at `path`.
pub(crate) fn decode_block(raw: &RawValue, path: &str) -> Result<Block, InvalidBody> {
    let tag: Tag = parse_at(raw.get(), path)?;
    Ok(match tag.kind.as_str() {
        "text" => {
            let t: WText = parse_at(raw.get(), path)?;
            Block::Text(TextBlock {
                text: t.text,
                cache_control: t.cache_control,
                citations: t.citations.filter(|c| !c.is_null()),
            })
        }
        "image" | "document" => {
            let media: WMedia = parse_at(raw.get(), path)?;
            let source_path = format!("{path}.source");
            let kind: Tag = parse_at(media.source.get(), &source_path)?;
            if !matches!(kind.kind.as_str(), "base64" | "url" | "file" | "text") {
                // `content` documents and future source kinds have no canonical shape.
                return opaque(raw, path);
            }
            let source = match parse_at::<WSource>(media.source.get(), &source_path)? {
                WSource::Base64 { media_type, data } => Source::Base64 { media_type, data },
                WSource::Url { url } => Source::Url(url),
                WSource::File { file_id } => Source::File(file_id),
                WSource::Text { media_type, data } => Source::Text { media_type, data },
            };
            if tag.kind == "image" {
                Block::Image(Image { source, detail: None, cache_control: media.cache_control })
            } else {
                Block::Document(Document {
                    source,
                    title: media.title,
                    filename: None,
                    context: media.context,
                    citations: media.citations.filter(|c| !c.is_null()),
                    cache_control: media.cache_control,
                })
            }
        }
        "tool_use" => {
            let t: WToolUse = parse_at(raw.get(), path)?;
            Block::ToolUse(ToolUse {
                id: t.id,
                name: t.name,
                input: t.input.filter(|v| !v.is_null()).unwrap_or_else(empty_object),
                cache_control: t.cache_control,
            })
        }
        "tool_result" => {
            let t: WToolResult = parse_at(raw.get(), path)?;
            let content = match &t.content {
                Some(raw) => decode_content(raw, &format!("{path}.content"))?,
                None => Vec::new(),
            };
            Block::ToolResult(ToolResult {
                tool_use_id: t.tool_use_id,
                content,
                is_error: t.is_error.unwrap_or(false),
                cache_control: t.cache_control,
            })
        }
        "thinking" => {
            let t: WThinking = parse_at(raw.get(), path)?;
            // Tollgate's stand-in for thinking that came without a signature goes back to being
            // unsigned thinking of its issuer: it must never reach a provider as a signature.
            match t.signature.as_deref().and_then(crate::canonical::unsigned_origin) {
                Some(origin) => Block::Thinking(ThinkingBlock {
                    thinking: t.thinking,
                    signature: None,
                    origin: Some(origin),
                }),
                None => Block::Thinking(ThinkingBlock {
                    thinking: t.thinking,
                    signature: t.signature,
                    origin: None,
                }),
            }
        }
        "redacted_thinking" => {
            let t: WRedacted = parse_at(raw.get(), path)?;
            Block::RedactedThinking(RedactedThinking { data: t.data, origin: None })
        }
        _ => return opaque(raw, path),
    })
}

fn opaque(raw: &RawValue, path: &str) -> Result<Block, InvalidBody> {
    let value: Value = parse_at(raw.get(), path)?;
    Ok(Block::Opaque(Opaque { dialect: Dialect::Anthropic, value }))
}

pub(crate) fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A block as written: typed, or an opaque Anthropic block exactly as it came.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Out<'a> {
    Block(OutBlock<'a>),
    Raw(&'a Value),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutBlock<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        citations: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Image {
        source: OutSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Document {
        source: OutSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        context: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        citations: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    ToolUse {
        id: String,
        name: &'a str,
        input: Cow<'a, Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        content: Vec<Out<'a>>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutSource<'a> {
    Base64 { media_type: &'a str, data: &'a str },
    Url { url: &'a str },
    File { file_id: &'a str },
    Text { media_type: &'a str, data: &'a str },
}

/// Where blocks are written: the rules differ for history sent to the API and for answers
/// shown to a client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Request history: unsigned thinking is dropped (the API rejects it), tool ids are
    /// sanitised to the API's grammar.
    Request,
    /// A response to an Anthropic client: ids are kept as the model produced them.
    Response,
}

/// One canonical block written in Anthropic's shape, or `None` (with a note) when Anthropic
/// cannot carry it.
pub(crate) fn encode_block<'a>(
    block: &'a Block,
    place: Place,
    notes: &mut Vec<Note>,
) -> Option<Out<'a>> {
    let typed = match block {
        Block::Text(t) => OutBlock::Text {
            text: Cow::Borrowed(&t.text),
            citations: t.citations.as_ref(),
            cache_control: t.cache_control.as_ref(),
        },
        Block::Image(image) => {
            if image.detail.is_some() {
                note(notes, "image `detail` dropped: Anthropic has no such setting");
            }
            if let Some(why) = unsendable_image(&image.source) {
                note(notes, format!("{why}: replaced by a text stand-in"));
                // A stand-in rather than nothing: the turn must not become empty, and the model
                // learns that the user sent an image it cannot see.
                return Some(Out::Block(OutBlock::Text {
                    text: Cow::Owned(format!("[{why}]")),
                    citations: None,
                    cache_control: image.cache_control.as_ref(),
                }));
            }
            OutBlock::Image {
                source: source(&image.source),
                cache_control: image.cache_control.as_ref(),
            }
        }
        Block::Document(doc) => {
            OutBlock::Document {
                source: source(&doc.source),
                // Anthropic documents have a title and no file name; a name is the best title.
                title: doc.title.as_deref().or(doc.filename.as_deref()),
                context: doc.context.as_deref(),
                citations: doc.citations.as_ref(),
                cache_control: doc.cache_control.as_ref(),
            }
        }
        Block::ToolUse(call) => OutBlock::ToolUse {
            id: tool_id(&call.id, place),
            name: &call.name,
            input: object_input(&call.input),
            cache_control: call.cache_control.as_ref(),
        },
        Block::ToolResult(result) => OutBlock::ToolResult {
            tool_use_id: tool_id(&result.tool_use_id, place),
            content: result.content.iter().filter_map(|b| result_part(b, place, notes)).collect(),
            is_error: result.is_error,
            cache_control: result.cache_control.as_ref(),
        },
        Block::Thinking(t) => match (&t.signature, place) {
            (Some(signature), _) => OutBlock::Thinking { thinking: &t.thinking, signature },
            (None, Place::Response) => OutBlock::Thinking { thinking: &t.thinking, signature: "" },
            (None, Place::Request) => {
                note(notes, "thinking without a signature dropped: Anthropic rejects it");
                return None;
            }
        },
        Block::RedactedThinking(r) => OutBlock::RedactedThinking { data: &r.data },
        Block::Opaque(o) if o.dialect == Dialect::Anthropic => return Some(Out::Raw(&o.value)),
        Block::Opaque(o) => {
            note(notes, format!("{} block dropped: Anthropic cannot carry it", o.dialect));
            return None;
        }
    };
    Some(Out::Block(typed))
}

/// What a tool result may hold: text, images, documents and Anthropic's own blocks.
fn result_part<'a>(block: &'a Block, place: Place, notes: &mut Vec<Note>) -> Option<Out<'a>> {
    match block {
        Block::Text(_) | Block::Image(_) | Block::Document(_) | Block::Opaque(_) => {
            encode_block(block, place, notes)
        }
        _ => {
            note(notes, "a tool result part other than text, image or document dropped");
            None
        }
    }
}

/// The image types Anthropic accepts.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Anthropic's per-image limit, 5 MiB, counted on the base64 text as sent: its 400 reads "image
/// exceeds 5 MB maximum: 6405384 bytes > 5242880 bytes" for a 4.8 MB file
/// (langchain-ai/langchain#21654).
const MAX_IMAGE_BASE64: usize = 5 * 1024 * 1024;

/// Why Anthropic would reject this image (the whole request, for every later turn too, since
/// clients resend history), or `None` when it can go.
fn unsendable_image(source: &Source) -> Option<String> {
    match source {
        Source::Base64 { media_type, .. } if !IMAGE_TYPES.contains(&media_type.as_str()) => {
            Some(format!("image of type {media_type} omitted: Anthropic does not accept it"))
        }
        Source::Base64 { data, .. } if data.len() > MAX_IMAGE_BASE64 => Some(format!(
            "image of {:.1} MB (base64) omitted: over Anthropic's 5 MB limit",
            data.len() as f64 / (1024.0 * 1024.0)
        )),
        // A data URI that is not base64 (`data:image/svg+xml,<svg ...>`): Anthropic takes only
        // http(s) URLs, and such a payload is SVG or text, not a type it accepts.
        Source::Url(url) if url.starts_with("data:") => {
            let media_type = url["data:".len()..].split([';', ',']).next().unwrap_or_default();
            Some(format!("image of type {media_type} omitted: Anthropic does not accept it"))
        }
        Source::Text { media_type, .. } => {
            Some(format!("image with a text source ({media_type}) omitted"))
        }
        _ => None,
    }
}

fn source(source: &Source) -> OutSource<'_> {
    match source {
        Source::Base64 { media_type, data } => OutSource::Base64 { media_type, data },
        Source::Url(url) => OutSource::Url { url },
        Source::File(file_id) => OutSource::File { file_id },
        Source::Text { media_type, data } => OutSource::Text { media_type, data },
    }
}

fn tool_id(id: &str, place: Place) -> String {
    match place {
        Place::Request => ids::sanitize(id),
        Place::Response => id.to_owned(),
    }
}

/// Anthropic's `input` is always an object; anything else travels in the freeform-tool field.
fn object_input(input: &Value) -> Cow<'_, Value> {
    match input {
        Value::Object(_) => Cow::Borrowed(input),
        Value::Null => Cow::Owned(empty_object()),
        other => {
            let mut map = serde_json::Map::new();
            map.insert(CUSTOM_INPUT_FIELD.to_owned(), other.clone());
            Cow::Owned(Value::Object(map))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn block(json: &str) -> Result<Block, InvalidBody> {
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        decode_block(&raw, "messages[0].content[0]")
    }

    fn written(b: &Block, place: Place) -> Option<Value> {
        let mut notes = Vec::new();
        encode_block(b, place, &mut notes).map(|o| serde_json::to_value(&o).unwrap())
    }

    #[test]
    fn every_known_block_round_trips() {
        for json in [
            r#"{"type":"text","text":"hi","cache_control":{"type":"ephemeral","ttl":"1h"},"citations":[{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}]}"#,
            r#"{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}"#,
            r#"{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}"#,
            r#"{"type":"image","source":{"type":"file","file_id":"file_011"}}"#,
            r#"{"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello"},"title":"T"}"#,
            r#"{"type":"tool_use","id":"toolu_1","name":"get","input":{"a":1}}"#,
            r#"{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"ok"},{"type":"image","source":{"type":"url","url":"u"}}],"is_error":true}"#,
            r#"{"type":"thinking","thinking":"","signature":"EqQB+/=="}"#,
            r#"{"type":"redacted_thinking","data":"EmwK"}"#,
            r#"{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}}"#,
        ] {
            let decoded = block(json).unwrap();
            let expected: Value = serde_json::from_str(json).unwrap();
            assert_eq!(written(&decoded, Place::Request), Some(expected), "{json}");
        }
    }

    #[test]
    fn unknown_shapes_stay_opaque_and_bad_blocks_name_their_path() {
        let doc = r#"{"type":"document","source":{"type":"content","content":[{"type":"text","text":"a"}]}}"#;
        assert!(
            matches!(block(doc).unwrap(), Block::Opaque(o) if o.value["source"]["type"] == "content")
        );
        let err = block(r#"{"type":"tool_use","id":"t","input":{}}"#).unwrap_err();
        assert_eq!(err.path.as_deref(), Some("messages[0].content[0]"));
        assert!(err.message.contains("missing field `name`"), "{}", err.message);
        let err = block(r#"{"type":"image","source":{"type":"base64","data":"x"}}"#).unwrap_err();
        assert_eq!(err.path.as_deref(), Some("messages[0].content[0].source"));
        let err = block(r#"{"text":"no type"}"#).unwrap_err();
        assert!(err.message.contains("missing field `type`"), "{}", err.message);
    }

    #[test]
    fn string_tool_result_content_becomes_text_and_empty_becomes_nothing() {
        let Block::ToolResult(r) =
            block(r#"{"type":"tool_result","tool_use_id":"t","content":"42"}"#).unwrap()
        else {
            panic!("not a tool result")
        };
        assert_eq!(r.content, vec![Block::Text(TextBlock::new("42"))]);
        let Block::ToolResult(r) =
            block(r#"{"type":"tool_result","tool_use_id":"t","content":""}"#).unwrap()
        else {
            panic!("not a tool result")
        };
        assert!(r.content.is_empty());
    }

    #[test]
    fn requests_sanitise_ids_and_drop_unsigned_thinking_responses_keep_them() {
        let call = Block::ToolUse(ToolUse {
            id: "functions.bash:0".into(),
            name: "bash".into(),
            input: json!("ls"),
            cache_control: None,
        });
        let w = written(&call, Place::Request).unwrap();
        assert!(ids::is_clean(w["id"].as_str().unwrap()));
        assert_eq!(w["input"], json!({"input": "ls"}));
        assert_eq!(written(&call, Place::Response).unwrap()["id"], "functions.bash:0");

        let unsigned = Block::Thinking(ThinkingBlock::default());
        let mut notes = Vec::new();
        assert!(encode_block(&unsigned, Place::Request, &mut notes).is_none());
        assert_eq!(notes.len(), 1);
        assert_eq!(
            written(&unsigned, Place::Response),
            Some(json!({"type": "thinking", "thinking": "", "signature": ""}))
        );
        let foreign = Block::Opaque(Opaque { dialect: Dialect::OpenAiResponses, value: json!({}) });
        assert!(written(&foreign, Place::Request).is_none());
    }
}
