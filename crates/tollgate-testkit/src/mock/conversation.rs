//! The dialect-neutral reading of a chat request (how the conversation ends, which tools exist,
//! what was asked for) and the reply the mock gives to it. Both dialects parse into
//! [`Conversation`] and render a [`Plan`]; the rules deciding what the mock answers live only
//! here, the wire shapes live only in `anthropic` and `openai`.

use serde_json::Value;

use super::json::Json;

/// Text that makes the mock call two tools at once.
pub(crate) const PARALLEL_MARKER: &str = "[[parallel]]";
/// The answer is this prefix plus the start of the last user text.
pub(crate) const REPLY_PREFIX: &str = "Hello from the mock. You said: ";
/// How much of the last user text the answer repeats, in characters.
const ECHO_CHARS: usize = 200;
/// The thinking a request with thinking enabled gets, streamed in two deltas.
const THINKING: [&str; 2] = ["Let me think about how to answer this.", " A short reply will do."];

pub(crate) struct Conversation {
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) thinking: bool,
    /// OpenAI `stream_options.include_usage`.
    pub(crate) include_usage: bool,
    /// Tools the model may call, in request order (server tools left out).
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: ToolChoice,
    pub(crate) last_turn: LastTurn,
    /// Request body size, the basis of the made-up input token count.
    pub(crate) body_len: usize,
    /// The request marks something cacheable (`cache_control`), so part of the input is reported
    /// as read from cache.
    pub(crate) cache_hint: bool,
}

pub(crate) struct Tool {
    pub(crate) name: String,
    /// Arguments that satisfy the tool's schema: each `required` property, in `required` order,
    /// with a plausible value.
    pub(crate) example_input: Json,
}

impl Tool {
    pub(crate) fn from_schema(name: String, schema: &Value) -> Tool {
        let properties = &schema["properties"];
        let required =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str);
        let input = Json::object(required.map(|key| (key, example_value(&properties[key]))));
        Tool { name, example_input: input }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Named(String),
}

pub(crate) enum LastTurn {
    /// The conversation ends with a user message that carries no tool results.
    User(String),
    /// The conversation ends with tool results; the text is what they say.
    ToolResults(String),
    /// It ends otherwise (e.g. an assistant prefill); the text is the last user text.
    Other(String),
}

impl LastTurn {
    fn text(&self) -> &str {
        match self {
            LastTurn::User(text) | LastTurn::ToolResults(text) | LastTurn::Other(text) => text,
        }
    }
}

/// What the mock answers, before any dialect renders it. Blocks come in this order: thinking,
/// text, tool calls.
pub(crate) struct Plan {
    pub(crate) thinking: Option<Vec<String>>,
    pub(crate) text: Option<String>,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) usage: Usage,
}

pub(crate) struct ToolCall {
    pub(crate) name: String,
    pub(crate) input: Json,
    /// `input` as compact JSON, the string that is streamed in fragments.
    pub(crate) arguments: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Input tokens not read from cache (Anthropic's `input_tokens`).
    pub(crate) input_tokens: u64,
    pub(crate) cache_creation_input_tokens: u64,
    pub(crate) cache_read_input_tokens: u64,
    pub(crate) output_tokens: u64,
}

impl Usage {
    /// All input tokens, cached or not (OpenAI's `prompt_tokens`).
    pub(crate) fn prompt_tokens(&self) -> u64 {
        self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens
    }
}

impl Conversation {
    pub(crate) fn plan(&self) -> Plan {
        let calls = self.tool_calls();
        let text = calls.is_empty().then(|| {
            let echo: String = self.last_turn.text().chars().take(ECHO_CHARS).collect();
            format!("{REPLY_PREFIX}{echo}")
        });
        let thinking = self.thinking.then(|| THINKING.map(str::to_owned).to_vec());
        let output_chars = thinking.iter().flatten().map(|t| t.chars().count()).sum::<usize>()
            + text.as_ref().map_or(0, |t| t.chars().count())
            + calls.iter().map(|c| c.arguments.chars().count()).sum::<usize>();
        let total_input = token_estimate(self.body_len);
        let cache_read = if self.cache_hint { total_input / 2 } else { 0 };
        Plan {
            thinking,
            text,
            tool_calls: calls,
            usage: Usage {
                input_tokens: total_input - cache_read,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: cache_read,
                output_tokens: token_estimate(output_chars),
            },
        }
    }

    /// A user turn with tools on offer gets a tool call: the first tool (or the one
    /// `tool_choice` names), twice or to the first two tools if the text asks for
    /// [`PARALLEL_MARKER`]. Tool results, prefills and `tool_choice: none` get text.
    fn tool_calls(&self) -> Vec<ToolCall> {
        let LastTurn::User(text) = &self.last_turn else { return Vec::new() };
        let first = match &self.tool_choice {
            ToolChoice::None => return Vec::new(),
            ToolChoice::Named(name) => self.tools.iter().find(|t| &t.name == name),
            ToolChoice::Auto => self.tools.first(),
        };
        let Some(first) = first else { return Vec::new() };
        if !text.contains(PARALLEL_MARKER) {
            return vec![call(first)];
        }
        let second = match &self.tool_choice {
            ToolChoice::Auto => self.tools.get(1).unwrap_or(first),
            _ => first,
        };
        vec![call(first), call(second)]
    }
}

fn call(tool: &Tool) -> ToolCall {
    ToolCall {
        name: tool.name.clone(),
        input: tool.example_input.clone(),
        arguments: tool.example_input.to_string(),
    }
}

/// Roughly four bytes per token, never zero.
pub(crate) fn token_estimate(len: usize) -> u64 {
    u64::try_from(len / 4).unwrap_or(u64::MAX).max(1)
}

/// A plausible value for a JSON-schema property: its first enum value or const, else one per
/// type ("test", 1, true, [], {}).
fn example_value(schema: &Value) -> Json {
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return Json::from(first);
    }
    if let Some(constant) = schema.get("const") {
        return Json::from(constant);
    }
    for union in ["anyOf", "oneOf"] {
        if let Some(first) = schema[union].as_array().and_then(|alternatives| alternatives.first())
        {
            return example_value(first);
        }
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.as_str(),
        Value::Array(kinds) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null")
        }
        _ => "string",
    };
    match kind {
        "number" | "integer" => Json::from(1_u64),
        "boolean" => Json::Bool(true),
        "array" => Json::Array(Vec::new()),
        "object" => Json::empty_object(),
        "null" => Json::Null,
        _ => Json::from("test"),
    }
}

/// Splits an answer into streaming deltas of about three words, keeping the spaces.
pub(crate) fn text_deltas(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let deltas: Vec<String> = words.chunks(3).map(|chunk| chunk.concat()).collect();
    if deltas.is_empty() { vec![String::new()] } else { deltas }
}

/// Splits a JSON string into three fragments (fewer if it is shorter than three characters), the
/// way the APIs stream tool arguments: valid JSON only once joined.
pub(crate) fn json_fragments(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    if chars.len() < 3 {
        return vec![json.to_owned()];
    }
    let size = chars.len().div_ceil(3);
    chars.chunks(size).map(|chunk| chunk.iter().collect()).collect()
}

/// The `stream` flag of a JSON request body, without validating anything else.
pub(crate) fn asks_to_stream(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| v["stream"] == true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conversation(last_turn: LastTurn, tools: Vec<Tool>) -> Conversation {
        Conversation {
            model: "m".into(),
            stream: false,
            thinking: false,
            include_usage: false,
            tools,
            tool_choice: ToolChoice::Auto,
            last_turn,
            body_len: 400,
            cache_hint: false,
        }
    }

    #[test]
    fn example_input_fills_required_properties_by_type() {
        let schema = json!({
            "type": "object",
            "properties": {
                "s": {"type": "string"}, "n": {"type": "number"}, "i": {"type": "integer"},
                "b": {"type": "boolean"}, "a": {"type": "array"}, "o": {"type": "object"},
                "e": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "u": {"type": ["null", "integer"]}, "optional": {"type": "string"}
            },
            "required": ["s", "n", "i", "b", "a", "o", "e", "u"]
        });
        let tool = Tool::from_schema("t".into(), &schema);
        assert_eq!(
            tool.example_input.to_string(),
            r#"{"s":"test","n":1,"i":1,"b":true,"a":[],"o":{},"e":"celsius","u":1}"#
        );
    }

    #[test]
    fn plan_calls_the_first_tool_on_a_user_turn_and_answers_tool_results() {
        let tools = || {
            vec![
                Tool::from_schema("first".into(), &json!({})),
                Tool::from_schema("second".into(), &json!({})),
            ]
        };
        let plan = conversation(LastTurn::User("hi".into()), tools()).plan();
        assert_eq!(plan.tool_calls.len(), 1);
        assert_eq!(plan.tool_calls[0].name, "first");
        assert!(plan.text.is_none());

        let plan = conversation(LastTurn::User("go [[parallel]]".into()), tools()).plan();
        let names: Vec<_> = plan.tool_calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["first", "second"]);

        let plan = conversation(LastTurn::ToolResults("42".into()), tools()).plan();
        assert!(plan.tool_calls.is_empty());
        assert_eq!(plan.text.as_deref(), Some("Hello from the mock. You said: 42"));
        assert_eq!(plan.usage.input_tokens, 100);
    }

    #[test]
    fn fragments_rejoin() {
        let json = r#"{"location":"test"}"#;
        let parts = json_fragments(json);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), json);
        assert_eq!(text_deltas("a b c d e").concat(), "a b c d e");
        assert!(text_deltas("a b c d e").len() >= 2);
    }
}
