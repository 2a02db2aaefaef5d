//! The scenarios, each written once: the canonical events a provider would have produced (the
//! way Anthropic streams them, the richest grammar), and what a client should ideally see of it
//! ([`Want`], before any dialect's limits are applied in `expect`).

use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::canonical::{
    Block, Delta, RedactedThinking, StopReason, StreamEvent, TextBlock, ThinkingBlock, ToolUse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    PlainText,
    OneTool,
    ParallelTools,
    ThinkingTool,
    RedactedThinking,
    SignatureOnly,
    MaxTokensText,
    MaxTokensTool,
    MaxTokensThinking,
    Refusal,
    StopSequence,
    CachedUsage,
    Overloaded,
    BrokeOff,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::PlainText => "plain_text",
            Self::OneTool => "one_tool",
            Self::ParallelTools => "parallel_tools",
            Self::ThinkingTool => "thinking_tool",
            Self::RedactedThinking => "redacted_thinking",
            Self::SignatureOnly => "signature_only",
            Self::MaxTokensText => "max_tokens_text",
            Self::MaxTokensTool => "max_tokens_tool",
            Self::MaxTokensThinking => "max_tokens_thinking",
            Self::Refusal => "refusal",
            Self::StopSequence => "stop_sequence",
            Self::CachedUsage => "cached_usage",
            Self::Overloaded => "overloaded",
            Self::BrokeOff => "broke_off",
        }
    }
}

/// A thinking block's content as a client can observe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thought {
    Thinking { text: String, signature: Option<String> },
    Redacted { data: String },
}

/// A tool call's arguments: parsed when they are JSON, else the raw text (a call cut short).
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    Json(Value),
    Raw(String),
}

impl Args {
    pub fn of(raw: &str) -> Args {
        match serde_json::from_str::<Value>(raw) {
            Ok(v) => Args::Json(v),
            Err(_) => Args::Raw(raw.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `None`: the provider dialect cannot carry the id; any non-empty, unique id will do.
    pub id: Option<String>,
    pub name: String,
    pub args: Args,
}

/// What a client should see, in canonical terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    /// `None` when the stream fails.
    pub stop: Option<StopReason>,
    pub stop_sequence: Option<String>,
    /// Final usage; `None` when the stream fails.
    pub usage: Option<Usage>,
    /// Thinking in order; a `None` signature is thinking its provider did not sign.
    pub thinking: Vec<Thought>,
    pub text: String,
    pub calls: Vec<Call>,
    /// The canonical (Anthropic) error type that ends a failed stream.
    pub error: Option<String>,
    /// Reasoning items of a Responses provider passed whole to a Responses client.
    pub foreign_reasoning: usize,
}

pub const SIGNATURE: &str = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/=";
pub const SIGNATURE_ONLY: &str = "ErUBCkYIBRgCIkCj/sig+only==";
pub const REDACTED: &str = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP";

fn usage(input: u64, output: u64) -> Usage {
    Usage { input_tokens: input, output_tokens: output, ..Usage::default() }
}

/// Writes a scenario's events with indices assigned in order.
struct Events {
    out: Vec<StreamEvent>,
    next: usize,
}

impl Events {
    fn new(model: &str, start: Usage) -> Self {
        let out = vec![StreamEvent::MessageStart {
            id: "msg_01MatrixScenario".into(),
            model: model.into(),
            usage: Usage { output_tokens: 1, ..start },
        }];
        Events { out, next: 0 }
    }

    fn block(&mut self, block: Block, deltas: Vec<Delta>, stop: bool) -> &mut Self {
        let index = self.next;
        self.next += 1;
        self.out.push(StreamEvent::BlockStart { index, block });
        self.out.extend(deltas.into_iter().map(|delta| StreamEvent::BlockDelta { index, delta }));
        if stop {
            self.out.push(StreamEvent::BlockStop { index });
        }
        self
    }

    fn text(&mut self, parts: &[&str]) -> &mut Self {
        let deltas = parts.iter().map(|p| Delta::Text((*p).into())).collect();
        self.block(Block::Text(TextBlock::new("")), deltas, true)
    }

    fn thinking(&mut self, parts: &[&str], signature: Option<&str>) -> &mut Self {
        let mut deltas: Vec<Delta> = parts.iter().map(|p| Delta::Thinking((*p).into())).collect();
        deltas.extend(signature.map(|s| Delta::Signature(s.into())));
        self.block(Block::Thinking(ThinkingBlock::default()), deltas, true)
    }

    fn redacted(&mut self, data: &str) -> &mut Self {
        let block = Block::RedactedThinking(RedactedThinking { data: data.into(), origin: None });
        self.block(block, Vec::new(), true)
    }

    fn tool(&mut self, id: &str, name: &str, fragments: &[&str]) -> &mut Self {
        let block = Block::ToolUse(ToolUse {
            id: id.into(),
            name: name.into(),
            input: json!({}),
            cache_control: None,
        });
        let deltas = fragments.iter().map(|f| Delta::InputJson((*f).into())).collect();
        self.block(block, deltas, true)
    }

    fn end(
        &mut self,
        stop: StopReason,
        stop_sequence: Option<&str>,
        usage: Usage,
    ) -> Vec<StreamEvent> {
        self.out.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: stop_sequence.map(str::to_owned),
            usage,
        });
        self.out.push(StreamEvent::MessageStop);
        std::mem::take(&mut self.out)
    }

    fn done(&mut self) -> Vec<StreamEvent> {
        std::mem::take(&mut self.out)
    }
}

const WEATHER: [&str; 3] = ["{\"city\"", ": \"Par", "is\"}"];
const TIME: [&str; 2] = ["{\"zone\": \"Europe/", "Paris\"}"];

fn call(id: &str, name: &str, args: Value) -> Call {
    Call { id: Some(id.into()), name: name.into(), args: Args::Json(args) }
}

fn thinking(text: &str, signature: Option<&str>) -> Thought {
    Thought::Thinking { text: text.into(), signature: signature.map(str::to_owned) }
}

impl Scenario {
    /// The events as the provider produced them; `model` is the provider's model name.
    pub fn events(self, model: &str) -> Vec<StreamEvent> {
        let start = usage(25, 0);
        let mut e = Events::new(model, start);
        match self {
            Self::PlainText => {
                // A keepalive between blocks, as Anthropic sends them.
                e.out.push(StreamEvent::Ping);
                e.text(&["Hello", ", world!"]).end(StopReason::EndTurn, None, usage(25, 9))
            }
            Self::OneTool => e
                .text(&["Let me check the weather."])
                .tool("toolu_01A", "get_weather", &WEATHER)
                .end(StopReason::ToolUse, None, usage(25, 30)),
            Self::ParallelTools => e
                .text(&["Checking both."])
                .tool("toolu_01A", "get_weather", &WEATHER)
                .tool("toolu_01B", "get_time", &TIME)
                .end(StopReason::ToolUse, None, usage(25, 52)),
            Self::ThinkingTool => e
                .thinking(
                    &["The user wants the weather ", "in Paris. I should call the tool."],
                    Some(SIGNATURE),
                )
                .tool("toolu_01A", "get_weather", &WEATHER)
                .end(StopReason::ToolUse, None, usage(25, 61)),
            Self::RedactedThinking => e
                .thinking(&["Let me think."], Some(SIGNATURE))
                .redacted(REDACTED)
                .text(&["The answer is 42."])
                .end(StopReason::EndTurn, None, usage(25, 70)),
            Self::SignatureOnly => e.thinking(&[], Some(SIGNATURE_ONLY)).text(&["Done."]).end(
                StopReason::EndTurn,
                None,
                usage(25, 40),
            ),
            Self::MaxTokensText => e.text(&["Once upon a time, ", "there was"]).end(
                StopReason::MaxTokens,
                None,
                usage(25, 16),
            ),
            Self::MaxTokensTool => e
                .text(&["Checking."])
                .tool("toolu_01A", "get_weather", &["{\"city\"", ": \"Pa"])
                .end(StopReason::MaxTokens, None, usage(25, 16)),
            Self::MaxTokensThinking => e
                .thinking(&["Let me work through ", "this step by"], None)
                .end(StopReason::MaxTokens, None, usage(25, 16)),
            Self::Refusal => {
                e.text(&["I can't help with that."]).end(StopReason::Refusal, None, usage(25, 8))
            }
            Self::StopSequence => {
                e.text(&["1, 2, 3, "]).end(StopReason::StopSequence, Some("4"), usage(25, 7))
            }
            Self::CachedUsage => {
                let cached = Usage {
                    web_search_requests: 0,
                    input_tokens: 10,
                    output_tokens: 0,
                    cache_read_tokens: 1200,
                    cache_write_tokens: 300,
                };
                let mut e = Events::new(model, cached);
                e.text(&["Cached hello."]).end(
                    StopReason::EndTurn,
                    None,
                    Usage { output_tokens: 5, ..cached },
                )
            }
            Self::Overloaded => {
                e.text(&["Partial"]);
                e.out.push(StreamEvent::Error {
                    kind: "overloaded_error".into(),
                    message: "Overloaded".into(),
                });
                e.done()
            }
            Self::BrokeOff => {
                let index = e.next;
                e.out.push(StreamEvent::BlockStart {
                    index,
                    block: Block::Text(TextBlock::new("")),
                });
                e.out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Text("The answer is".into()),
                });
                e.done()
            }
        }
    }

    /// What a client of the same dialect as an ideal provider would see.
    pub fn ideal(self) -> Want {
        let mut w = Want {
            stop: None,
            stop_sequence: None,
            usage: None,
            thinking: Vec::new(),
            text: String::new(),
            calls: Vec::new(),
            error: None,
            foreign_reasoning: 0,
        };
        let weather = || call("toolu_01A", "get_weather", json!({"city": "Paris"}));
        let (stop, out) = match self {
            Self::PlainText => {
                w.text = "Hello, world!".into();
                (StopReason::EndTurn, 9)
            }
            Self::OneTool => {
                w.text = "Let me check the weather.".into();
                w.calls = vec![weather()];
                (StopReason::ToolUse, 30)
            }
            Self::ParallelTools => {
                w.text = "Checking both.".into();
                w.calls =
                    vec![weather(), call("toolu_01B", "get_time", json!({"zone": "Europe/Paris"}))];
                (StopReason::ToolUse, 52)
            }
            Self::ThinkingTool => {
                w.thinking = vec![thinking(
                    "The user wants the weather in Paris. I should call the tool.",
                    Some(SIGNATURE),
                )];
                w.calls = vec![weather()];
                (StopReason::ToolUse, 61)
            }
            Self::RedactedThinking => {
                w.thinking = vec![
                    thinking("Let me think.", Some(SIGNATURE)),
                    Thought::Redacted { data: REDACTED.into() },
                ];
                w.text = "The answer is 42.".into();
                (StopReason::EndTurn, 70)
            }
            Self::SignatureOnly => {
                w.thinking = vec![thinking("", Some(SIGNATURE_ONLY))];
                w.text = "Done.".into();
                (StopReason::EndTurn, 40)
            }
            Self::MaxTokensText => {
                w.text = "Once upon a time, there was".into();
                (StopReason::MaxTokens, 16)
            }
            Self::MaxTokensTool => {
                w.text = "Checking.".into();
                w.calls = vec![Call {
                    id: Some("toolu_01A".into()),
                    name: "get_weather".into(),
                    args: Args::Raw("{\"city\": \"Pa".into()),
                }];
                (StopReason::MaxTokens, 16)
            }
            Self::MaxTokensThinking => {
                w.thinking = vec![thinking("Let me work through this step by", None)];
                (StopReason::MaxTokens, 16)
            }
            Self::Refusal => {
                w.text = "I can't help with that.".into();
                (StopReason::Refusal, 8)
            }
            Self::StopSequence => {
                w.text = "1, 2, 3, ".into();
                w.stop_sequence = Some("4".into());
                (StopReason::StopSequence, 7)
            }
            Self::CachedUsage => {
                w.text = "Cached hello.".into();
                w.stop = Some(StopReason::EndTurn);
                w.usage = Some(Usage {
                    web_search_requests: 0,
                    input_tokens: 10,
                    output_tokens: 5,
                    cache_read_tokens: 1200,
                    cache_write_tokens: 300,
                });
                return w;
            }
            Self::Overloaded => {
                w.text = "Partial".into();
                w.error = Some("overloaded_error".into());
                return w;
            }
            Self::BrokeOff => {
                w.text = "The answer is".into();
                w.error = Some("api_error".into());
                return w;
            }
        };
        w.stop = Some(stop);
        w.usage = Some(usage(25, out));
        w
    }
}

pub const ALL: [Scenario; 14] = [
    Scenario::PlainText,
    Scenario::OneTool,
    Scenario::ParallelTools,
    Scenario::ThinkingTool,
    Scenario::RedactedThinking,
    Scenario::SignatureOnly,
    Scenario::MaxTokensText,
    Scenario::MaxTokensTool,
    Scenario::MaxTokensThinking,
    Scenario::Refusal,
    Scenario::StopSequence,
    Scenario::CachedUsage,
    Scenario::Overloaded,
    Scenario::BrokeOff,
];
