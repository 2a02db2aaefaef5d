//! History repair: each step on a history that breaks its rule, and `for_anthropic` on whole
//! requests (catalogue 2, 3, 4, 7-10, 15, 17, 18, 21, 38, 40).

use serde_json::json;
use tollgate_wire::Dialect;
use tollgate_wire::canonical::ids;
use tollgate_wire::canonical::repair::{
    DEFAULT_MAX_TOKENS, MISSING_RESULT, dedupe_tools, drop_empty, for_anthropic, merge_consecutive,
    order_blocks, pair_tools, strip_foreign_thinking, unique_tool_ids,
};
use tollgate_wire::canonical::{
    Block, Message, Note, Origin, Quirks, RedactedThinking, Request, Role, Target, TextBlock,
    Thinking, ThinkingBlock, ThinkingMode, Tool, ToolChoice, ToolKind, ToolResult,
};

use crate::ev::{has_note, tool};

fn user(content: Vec<Block>) -> Message {
    Message { role: Role::User, content }
}

fn assistant(content: Vec<Block>) -> Message {
    Message { role: Role::Assistant, content }
}

fn t(s: &str) -> Block {
    Block::Text(TextBlock::new(s))
}

fn call(id: &str) -> Block {
    tool(id, json!({}))
}

fn result(id: &str) -> Block {
    Block::ToolResult(ToolResult {
        tool_use_id: id.into(),
        content: vec![t("ok")],
        is_error: false,
        cache_control: None,
    })
}

fn missing(id: &str) -> Block {
    Block::ToolResult(ToolResult {
        tool_use_id: id.into(),
        content: vec![t(MISSING_RESULT)],
        is_error: true,
        cache_control: None,
    })
}

fn thought(origin: Option<(&str, &str)>, signature: Option<&str>) -> Block {
    Block::Thinking(ThinkingBlock {
        thinking: "hmm".into(),
        signature: signature.map(Into::into),
        origin: origin.map(|(p, f)| Origin { provider: p.into(), family: f.into() }),
    })
}

fn sonnet() -> Target {
    Target {
        model: "claude-sonnet-4-5-20250929".into(),
        provider: "anthropic".into(),
        quirks: Quirks::default(),
    }
}

fn function(name: &str) -> Tool {
    Tool {
        name: name.into(),
        description: None,
        kind: ToolKind::Function { parameters: json!({"type": "object"}), strict: None },
        cache_control: None,
    }
}

fn thinking(budget: u64) -> Option<Thinking> {
    Some(Thinking {
        mode: ThinkingMode::Enabled { budget_tokens: budget },
        effort: None,
        display: None,
    })
}

fn mode(req: &Request) -> Option<ThinkingMode> {
    req.thinking.as_ref().map(|t| t.mode.clone())
}

fn repaired(mut req: Request) -> (Request, Vec<Note>) {
    let mut notes = Vec::new();
    for_anthropic(&mut req, &sonnet(), &mut notes);
    (req, notes)
}

#[test]
fn consecutive_turns_of_one_role_are_merged() {
    let mut m =
        vec![user(vec![t("a")]), user(vec![t("b")]), assistant(vec![t("c")]), user(vec![t("d")])];
    merge_consecutive(&mut m);
    assert_eq!(m, vec![user(vec![t("a"), t("b")]), assistant(vec![t("c")]), user(vec![t("d")])]);
}

#[test]
fn empty_text_and_empty_turns_are_dropped_but_signature_only_thinking_stays() {
    let sig_only = Block::Thinking(ThinkingBlock {
        thinking: String::new(),
        signature: Some("SIG".into()),
        origin: None,
    });
    let hollow = Block::Thinking(ThinkingBlock::default());
    let mut m = vec![
        user(vec![t("hi")]),
        assistant(vec![sig_only.clone(), t(""), hollow, t(" \n"), call("toolu_1")]),
        user(vec![Block::ToolResult(ToolResult {
            tool_use_id: "toolu_1".into(),
            content: vec![t(""), t("out")],
            is_error: false,
            cache_control: None,
        })]),
        assistant(vec![t("")]),
    ];
    let mut notes = Vec::new();
    drop_empty(&mut m, &mut notes);
    assert_eq!(
        m,
        vec![
            user(vec![t("hi")]),
            assistant(vec![sig_only, call("toolu_1")]),
            user(vec![Block::ToolResult(ToolResult {
                tool_use_id: "toolu_1".into(),
                content: vec![t("out")],
                is_error: false,
                cache_control: None,
            })]),
        ]
    );
    assert!(has_note(&notes, "5 empty text or thinking block(s) dropped"));
    assert!(has_note(&notes, "1 empty message(s) dropped"));
}

#[test]
fn the_cache_breakpoint_of_a_dropped_text_moves_to_the_block_before() {
    let ephemeral = json!({"type": "ephemeral"});
    let mut m = vec![user(vec![
        t("context"),
        Block::Text(TextBlock {
            text: "".into(),
            cache_control: Some(ephemeral.clone()),
            citations: None,
        }),
    ])];
    drop_empty(&mut m, &mut Vec::new());
    assert_eq!(
        m,
        vec![user(vec![Block::Text(TextBlock {
            text: "context".into(),
            cache_control: Some(ephemeral),
            citations: None,
        })])]
    );
}

#[test]
fn a_call_without_a_result_gets_an_error_result_first_in_the_next_user_turn() {
    let mut m = vec![
        user(vec![t("go")]),
        assistant(vec![call("toolu_1"), call("toolu_2")]),
        user(vec![t("also this"), result("toolu_2")]),
    ];
    let mut notes = Vec::new();
    pair_tools(&mut m, &mut notes);
    assert_eq!(m[2], user(vec![missing("toolu_1"), t("also this"), result("toolu_2")]));
    assert!(has_note(&notes, "1 tool call(s) without a result"));
}

#[test]
fn a_user_turn_is_created_for_results_that_are_missing_altogether() {
    let mut m = vec![
        user(vec![t("go")]),
        assistant(vec![t("calling"), call("toolu_1")]),
        assistant(vec![t("more")]),
    ];
    pair_tools(&mut m, &mut Vec::new());
    assert_eq!(
        m,
        vec![
            user(vec![t("go")]),
            assistant(vec![t("calling"), call("toolu_1")]),
            user(vec![missing("toolu_1")]),
            assistant(vec![t("more")]),
        ]
    );
    let mut m = vec![user(vec![t("go")]), assistant(vec![call("toolu_1")])];
    pair_tools(&mut m, &mut Vec::new());
    assert_eq!(m.last(), Some(&user(vec![missing("toolu_1")])));
}

#[test]
fn results_without_their_call_are_removed() {
    let mut m = vec![
        user(vec![result("toolu_0"), t("after compact")]),
        assistant(vec![t("no calls here")]),
        user(vec![result("toolu_9"), t("next")]),
        assistant(vec![call("toolu_1")]),
        user(vec![result("toolu_1"), result("toolu_1"), result("toolu_8")]),
    ];
    let mut notes = Vec::new();
    pair_tools(&mut m, &mut notes);
    assert_eq!(
        m,
        vec![
            user(vec![t("after compact")]),
            assistant(vec![t("no calls here")]),
            user(vec![t("next")]),
            assistant(vec![call("toolu_1")]),
            user(vec![result("toolu_1")]),
        ]
    );
    assert!(has_note(&notes, "4 tool result(s) without a matching call"));
}

#[test]
fn duplicate_tools_are_dropped_keeping_the_first() {
    let mut first = function("bash");
    first.description = Some("first".into());
    let mut tools = vec![first.clone(), function("read"), function("bash")];
    let mut notes = Vec::new();
    dedupe_tools(&mut tools, &mut notes);
    assert_eq!(tools, vec![first, function("read")]);
    assert!(has_note(&notes, "duplicate tool bash dropped"));
}

#[test]
fn thinking_from_another_issuer_is_stripped() {
    let mine = thought(Some(("anthropic", "claude-sonnet-4-5")), Some("S"));
    let unknown = thought(None, Some("S"));
    let redacted_mine = Block::RedactedThinking(RedactedThinking {
        data: "D".into(),
        origin: Some(Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() }),
    });
    let mut m = vec![assistant(vec![
        mine.clone(),
        thought(Some(("anthropic", "claude-opus-4-1")), Some("S")),
        thought(Some(("bedrock", "claude-sonnet-4-5")), Some("S")),
        unknown.clone(),
        redacted_mine.clone(),
        Block::RedactedThinking(RedactedThinking {
            data: "D".into(),
            origin: Some(Origin { provider: "vertex".into(), family: "claude-sonnet-4-5".into() }),
        }),
        t("answer"),
    ])];
    let mut notes = Vec::new();
    strip_foreign_thinking(&mut m, Some(&sonnet()), &mut notes);
    assert_eq!(m, vec![assistant(vec![mine.clone(), unknown.clone(), redacted_mine, t("answer")])]);
    assert!(has_note(&notes, "3 thinking block(s) dropped"));

    // A target that takes no thinking back loses all of it.
    strip_foreign_thinking(&mut m, None, &mut notes);
    assert_eq!(m, vec![assistant(vec![t("answer")])]);
}

#[test]
fn blocks_are_put_in_anthropic_order() {
    let mut m = vec![
        assistant(vec![
            thought(None, Some("S")),
            call("toolu_1"),
            t("text after"),
            call("toolu_2"),
        ]),
        user(vec![t("note"), result("toolu_1"), result("toolu_2")]),
    ];
    order_blocks(&mut m);
    assert_eq!(
        m,
        vec![
            assistant(vec![
                thought(None, Some("S")),
                t("text after"),
                call("toolu_1"),
                call("toolu_2")
            ]),
            user(vec![result("toolu_1"), result("toolu_2"), t("note")]),
        ]
    );
}

/// An OpenAI-shaped history as a Chat Completions decoder gives it: empty assistant content next
/// to tool calls, one user turn per tool message, ids Anthropic rejects, a call never answered,
/// an answer to nothing, reasoning text without a signature, duplicate and foreign tools.
#[test]
fn for_anthropic_repairs_a_chat_completions_history() {
    let dirty = "functions.bash:0";
    let req = Request {
        model: "claude-sonnet-4-5".into(),
        messages: vec![
            user(vec![t("list files")]),
            assistant(vec![thought(None, None), t(""), call(dirty), call("call_2")]),
            user(vec![result(dirty)]),
            user(vec![result("call_x")]),
            user(vec![t("")]),
        ],
        tools: vec![
            function("bash"),
            function("bash"),
            // A hosted tool Anthropic has no counterpart for (web_search has one: see
            // catalogue case 49).
            Tool {
                name: "file_search".into(),
                description: None,
                kind: ToolKind::Hosted {
                    dialect: Dialect::OpenAiResponses,
                    value: json!({"type": "file_search", "vector_store_ids": ["vs_1"]}),
                },
                cache_control: None,
            },
        ],
        max_tokens: Some(1_000_000),
        temperature: Some(1.5),
        ..Request::default()
    };
    let mut notes = Vec::new();
    let mut req = req;
    for_anthropic(
        &mut req,
        &Target {
            quirks: Quirks { max_output_tokens: Some(64_000), ..Quirks::default() },
            ..sonnet()
        },
        &mut notes,
    );
    let clean = ids::sanitize(dirty);
    assert!(ids::is_clean(&clean));
    assert_eq!(
        req.messages,
        vec![
            user(vec![t("list files")]),
            assistant(vec![call(&clean), call("call_2")]),
            user(vec![missing("call_2"), result(&clean)]),
        ]
    );
    assert_eq!(req.tools, vec![function("bash")]);
    assert_eq!(req.max_tokens, Some(64_000));
    assert_eq!(req.temperature, Some(1.0));
    for part in [
        "without a signature dropped",
        "tool-call id(s) rewritten",
        "empty text or thinking block(s) dropped",
        "without a result given an error result",
        "without a matching call",
        "duplicate tool bash dropped",
        "hosted tool file_search dropped",
        "max_tokens 1000000 capped at the model's limit 64000",
        "temperature 1.5 capped at 1",
    ] {
        assert!(has_note(&notes, part), "no note {part:?} in {notes:#?}");
    }
}

#[test]
fn thinking_relaxes_forced_tool_choice_and_sampling() {
    let (req, notes) = repaired(Request {
        messages: vec![user(vec![t("hi")])],
        tools: vec![function("bash")],
        tool_choice: Some(ToolChoice::Any),
        thinking: thinking(2048),
        max_tokens: Some(4096),
        temperature: Some(0.2),
        top_k: Some(5),
        top_p: Some(0.5),
        ..Request::default()
    });
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!((req.temperature, req.top_k, req.top_p), (None, None, None));
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 2048 }));
    assert!(has_note(&notes, "tool_choice any relaxed to auto"));
    assert!(has_note(&notes, "temperature 0.2 dropped"));
    assert!(has_note(&notes, "top_k 5 dropped"));

    let (req, _) = repaired(Request {
        messages: vec![user(vec![t("hi")])],
        tools: vec![function("bash")],
        tool_choice: Some(ToolChoice::Tool("bash".into())),
        thinking: Some(Thinking { mode: ThinkingMode::Adaptive, effort: None, display: None }),
        top_p: Some(0.97),
        ..Request::default()
    });
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.top_p, Some(0.97));
}

#[test]
fn without_thinking_the_parameters_stay() {
    let (req, notes) = repaired(Request {
        messages: vec![user(vec![t("hi")])],
        tools: vec![function("bash")],
        tool_choice: Some(ToolChoice::Tool("bash".into())),
        max_tokens: Some(100),
        temperature: Some(0.2),
        top_k: Some(5),
        ..Request::default()
    });
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("bash".into())));
    assert_eq!((req.temperature, req.top_k), (Some(0.2), Some(5)));
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn a_prefill_disables_thinking() {
    let (req, notes) = repaired(Request {
        messages: vec![user(vec![t("hi")]), assistant(vec![t("{")])],
        thinking: thinking(2048),
        max_tokens: Some(4096),
        temperature: Some(0.2),
        ..Request::default()
    });
    assert_eq!(mode(&req), Some(ThinkingMode::Disabled));
    assert_eq!(req.temperature, Some(0.2), "no need to drop it once thinking is off");
    assert!(has_note(&notes, "assistant prefill"));
}

#[test]
fn a_tool_loop_whose_turn_lacks_thinking_disables_it() {
    let loop_turn = |first: Block| Request {
        messages: vec![
            user(vec![t("go")]),
            assistant(vec![first, call("toolu_1")]),
            user(vec![result("toolu_1")]),
        ],
        thinking: thinking(2048),
        max_tokens: Some(4096),
        ..Request::default()
    };
    // Its thinking came from another model and is stripped: the loop cannot go on with thinking.
    let (req, notes) = repaired(loop_turn(thought(Some(("openrouter", "gpt-5")), Some("S"))));
    assert_eq!(mode(&req), Some(ThinkingMode::Disabled));
    assert!(has_note(&notes, "does not start with a thinking block"));
    // Its own signed thinking (or redacted thinking) keeps thinking on.
    let (req, _) =
        repaired(loop_turn(thought(Some(("anthropic", "claude-sonnet-4-5")), Some("S"))));
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 2048 }));
    let redacted = Block::RedactedThinking(RedactedThinking { data: "D".into(), origin: None });
    let (req, _) = repaired(loop_turn(redacted));
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 2048 }));
    // Outside a tool loop, an earlier turn without thinking does not matter.
    let (req, _) = repaired(Request {
        messages: vec![user(vec![t("a")]), assistant(vec![t("b")]), user(vec![t("c")])],
        thinking: thinking(2048),
        max_tokens: Some(4096),
        ..Request::default()
    });
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 2048 }));
}

#[test]
fn max_tokens_gets_a_default_and_a_cap() {
    let (req, notes) =
        repaired(Request { messages: vec![user(vec![t("a")])], ..Request::default() });
    assert_eq!(req.max_tokens, Some(DEFAULT_MAX_TOKENS));
    assert!(has_note(&notes, "max_tokens absent"));

    let mut req = Request { messages: vec![user(vec![t("a")])], ..Request::default() };
    let target = Target {
        quirks: Quirks { max_output_tokens: Some(32_000), ..Quirks::default() },
        ..sonnet()
    };
    for_anthropic(&mut req, &target, &mut Vec::new());
    assert_eq!(req.max_tokens, Some(32_000));
}

#[test]
fn the_thinking_budget_is_kept_within_max_tokens() {
    let budget = |max: u64, budget: u64| {
        repaired(Request {
            messages: vec![user(vec![t("a")])],
            thinking: thinking(budget),
            max_tokens: Some(max),
            ..Request::default()
        })
    };
    let (req, notes) = budget(4096, 100);
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 1024 }));
    assert!(has_note(&notes, "raised to the minimum 1024"));
    let (req, notes) = budget(4096, 10_000);
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 4095 }));
    assert!(has_note(&notes, "lowered below max_tokens 4096"));
    let (req, notes) = budget(1024, 2000);
    assert_eq!(mode(&req), Some(ThinkingMode::Disabled));
    assert!(has_note(&notes, "leaves no room"));
    let (req, notes) = budget(32_000, 16_000);
    assert_eq!(mode(&req), Some(ThinkingMode::Enabled { budget_tokens: 16_000 }));
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn a_tool_choice_for_a_tool_not_offered_is_relaxed() {
    let (req, notes) = repaired(Request {
        messages: vec![user(vec![t("a")])],
        tools: vec![function("read")],
        tool_choice: Some(ToolChoice::Tool("bash".into())),
        max_tokens: Some(10),
        ..Request::default()
    });
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert!(has_note(&notes, "not offered"));
}

#[test]
fn a_clean_anthropic_history_is_left_alone() {
    let messages = vec![
        user(vec![t("go")]),
        assistant(vec![
            thought(Some(("anthropic", "claude-sonnet-4-5")), Some("S")),
            t("ok"),
            call("toolu_1"),
        ]),
        user(vec![result("toolu_1"), t("and?")]),
    ];
    let (req, notes) = repaired(Request {
        messages: messages.clone(),
        tools: vec![function("bash")],
        thinking: thinking(2048),
        max_tokens: Some(4096),
        ..Request::default()
    });
    assert_eq!(req.messages, messages);
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn repeated_call_ids_are_made_unique_with_their_results() {
    let res = |id: &str, out: &str| {
        Block::ToolResult(ToolResult {
            tool_use_id: id.into(),
            content: vec![t(out)],
            is_error: false,
            cache_control: None,
        })
    };
    let mut m = vec![
        user(vec![t("go")]),
        assistant(vec![call("call_0"), call("call_0")]),
        user(vec![res("call_0", "first"), res("call_0", "second")]),
        assistant(vec![call("call_0")]),
        user(vec![res("call_0", "third")]),
    ];
    let mut notes = Vec::new();
    unique_tool_ids(&mut m, &mut notes);
    assert_eq!(
        m,
        vec![
            user(vec![t("go")]),
            assistant(vec![call("call_0"), call("call_0_2")]),
            user(vec![res("call_0", "first"), res("call_0_2", "second")]),
            assistant(vec![call("call_0_3")]),
            user(vec![res("call_0_3", "third")]),
        ]
    );
    assert!(has_note(&notes, "2 repeated tool-call id(s) made unique"));
}

#[test]
fn calls_and_results_in_the_wrong_turn_are_removed() {
    let mut m = vec![
        user(vec![t("go"), call("toolu_0")]),
        assistant(vec![t("x"), result("toolu_0"), call("toolu_1")]),
        user(vec![result("toolu_1")]),
    ];
    let mut notes = Vec::new();
    pair_tools(&mut m, &mut notes);
    assert_eq!(
        m,
        vec![
            user(vec![t("go")]),
            assistant(vec![t("x"), call("toolu_1")]),
            user(vec![result("toolu_1")]),
        ]
    );
    assert!(has_note(&notes, "2 tool call(s) in user turns or result(s) in assistant turns"));
}

#[test]
fn a_tool_choice_without_tools_is_removed() {
    for (choice, noted) in [
        (ToolChoice::Any, true),
        (ToolChoice::Tool("bash".into()), true),
        (ToolChoice::Auto, false),
    ] {
        let (req, notes) = repaired(Request {
            messages: vec![user(vec![t("a")])],
            tool_choice: Some(choice.clone()),
            max_tokens: Some(10),
            ..Request::default()
        });
        assert_eq!(req.tool_choice, None);
        assert_eq!(has_note(&notes, "without tools removed"), noted, "{choice:?}: {notes:?}");
    }
}

#[test]
fn no_budget_is_fitted_for_thinking_the_history_disables() {
    let (req, notes) = repaired(Request {
        messages: vec![user(vec![t("hi")]), assistant(vec![t("{")])],
        thinking: thinking(100),
        max_tokens: Some(4096),
        ..Request::default()
    });
    assert_eq!(mode(&req), Some(ThinkingMode::Disabled));
    assert!(!has_note(&notes, "budget"), "{notes:?}");
}

/// Every rule `for_anthropic` promises, checked on its output.
fn anthropic_rules(req: &Request, cap: u64) -> Result<(), String> {
    let m = &req.messages;
    for (i, msg) in m.iter().enumerate() {
        if msg.content.is_empty() {
            return Err(format!("message {i} empty"));
        }
        if i > 0 && m[i - 1].role == msg.role {
            return Err(format!("message {i} repeats its role"));
        }
        let is_call = |b: &Block| matches!(b, Block::ToolUse(_));
        let is_result = |b: &Block| matches!(b, Block::ToolResult(_));
        for b in &msg.content {
            match b {
                Block::Text(t) if t.text.trim().is_empty() => {
                    return Err(format!("empty text in {i}"));
                }
                Block::ToolResult(r)
                    if r.content
                        .iter()
                        .any(|b| matches!(b, Block::Text(t) if t.text.trim().is_empty())) =>
                {
                    return Err(format!("empty text in a result in {i}"));
                }
                Block::ToolUse(tu) if !ids::is_clean(&tu.id) => {
                    return Err(format!("dirty id in {i}"));
                }
                Block::ToolResult(r) if !ids::is_clean(&r.tool_use_id) => {
                    return Err(format!("dirty id in {i}"));
                }
                Block::Thinking(th) if th.signature.is_none() => {
                    return Err(format!("unsigned thinking in {i}"));
                }
                Block::Thinking(ThinkingBlock { origin: Some(o), .. })
                    if o.provider != "anthropic" =>
                {
                    return Err(format!("foreign thinking in {i}"));
                }
                _ => {}
            }
        }
        let ids_of = |msg: &Message, f: &dyn Fn(&Block) -> Option<String>| -> Vec<String> {
            msg.content.iter().filter_map(f).collect()
        };
        let calls = |msg: &Message| {
            ids_of(msg, &|b| match b {
                Block::ToolUse(t) => Some(t.id.clone()),
                _ => None,
            })
        };
        let results = |msg: &Message| {
            ids_of(msg, &|b| match b {
                Block::ToolResult(r) => Some(r.tool_use_id.clone()),
                _ => None,
            })
        };
        match msg.role {
            Role::Assistant => {
                if let Some(p) = msg.content.iter().position(is_call)
                    && msg.content[p..].iter().any(|b| !is_call(b))
                {
                    return Err(format!("tool call not last in {i}"));
                }
                if !results(msg).is_empty() {
                    return Err(format!("result in assistant turn {i}"));
                }
                let mut c = calls(msg);
                let n = c.len();
                c.sort();
                c.dedup();
                if c.len() != n {
                    return Err(format!("repeated call id in {i}"));
                }
                let mut answered = m.get(i + 1).map(results).unwrap_or_default();
                answered.sort();
                if answered != c {
                    return Err(format!("calls of {i} answered by {answered:?}, not {c:?}"));
                }
            }
            Role::User => {
                if let Some(p) = msg.content.iter().position(|b| !is_result(b))
                    && msg.content[p..].iter().any(is_result)
                {
                    return Err(format!("tool result not first in {i}"));
                }
                if !calls(msg).is_empty() {
                    return Err(format!("call in user turn {i}"));
                }
                let asked = if i > 0 { calls(&m[i - 1]) } else { Vec::new() };
                if results(msg).iter().any(|r| !asked.contains(r)) {
                    return Err(format!("result without call in {i}"));
                }
            }
        }
    }
    let max = req.max_tokens.ok_or("no max_tokens")?;
    if max > cap {
        return Err("max_tokens over the cap".into());
    }
    let on = matches!(mode(req), Some(ThinkingMode::Enabled { .. } | ThinkingMode::Adaptive));
    if let Some(ThinkingMode::Enabled { budget_tokens }) = mode(req)
        && !(1024..max).contains(&budget_tokens)
    {
        return Err(format!("budget {budget_tokens} with max_tokens {max}"));
    }
    if on {
        if m.last().is_some_and(|l| l.role == Role::Assistant) {
            return Err("prefill with thinking".into());
        }
        if matches!(req.tool_choice, Some(ToolChoice::Any | ToolChoice::Tool(_))) {
            return Err("forced tool choice with thinking".into());
        }
        if req.temperature.is_some() || req.top_k.is_some() {
            return Err("sampling with thinking".into());
        }
        let in_loop =
            m.last().is_some_and(|l| l.content.iter().any(|b| matches!(b, Block::ToolResult(_))));
        let opener = m.iter().rev().find(|x| x.role == Role::Assistant);
        if in_loop
            && !opener.is_some_and(|o| {
                matches!(o.content.first(), Some(Block::Thinking(_) | Block::RedactedThinking(_)))
            })
        {
            return Err("tool loop without thinking first".into());
        }
    }
    Ok(())
}

proptest::proptest! {
    #[test]
    fn for_anthropic_output_keeps_every_rule_and_is_stable(
        messages in crate::arb::arb_history(),
        budget in proptest::option::of(0u64..70_000),
        max in proptest::option::of(1u64..100_000),
        forced in proptest::bool::ANY,
        temperature in proptest::option::of(0.0f64..2.0),
    ) {
        let mut req = Request {
            messages,
            tools: vec![function("bash")],
            tool_choice: forced.then_some(ToolChoice::Any),
            thinking: budget.and_then(thinking),
            max_tokens: max,
            temperature,
            ..Request::default()
        };
        let target = Target { quirks: Quirks { max_output_tokens: Some(64_000), ..Quirks::default() }, ..sonnet() };
        let mut notes = Vec::new();
        for_anthropic(&mut req, &target, &mut notes);
        if let Err(e) = anthropic_rules(&req, 64_000) {
            proptest::prop_assert!(false, "{}: {:#?}", e, req.messages);
        }
        let once = req.clone();
        let mut again = Vec::new();
        for_anthropic(&mut req, &target, &mut again);
        proptest::prop_assert_eq!(&req, &once);
        proptest::prop_assert!(again.is_empty(), "second pass changed: {:?}", again);
    }
}
