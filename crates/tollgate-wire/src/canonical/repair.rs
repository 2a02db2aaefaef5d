//! History repair before a strict provider: consecutive same-role turns merged, empty text and
//! empty turns dropped, tool calls and results paired in both directions, duplicate tool names
//! removed, thinking from another issuer stripped. Each step reports what it changed as a
//! [`Note`].

use super::{Message, Note, Request, Target, Tool};

/// Everything an Anthropic-dialect target needs. STUB: filled in by the core work.
pub fn for_anthropic(_req: &mut Request, _target: &Target, _notes: &mut Vec<Note>) {}

/// Merges consecutive messages with the same role.
pub fn merge_consecutive(_messages: &mut Vec<Message>) {}

/// Drops empty and whitespace-only text blocks, then messages left with no content.
pub fn drop_empty(_messages: &mut Vec<Message>, _notes: &mut Vec<Note>) {}

/// Pairs tool calls and results both ways: a call with no result gets an `is_error` result that
/// says so; a result with no call is dropped.
pub fn pair_tools(_messages: &mut Vec<Message>, _notes: &mut Vec<Note>) {}

/// Removes tools whose name repeats an earlier one (keeping the first).
pub fn dedupe_tools(_tools: &mut Vec<Tool>, _notes: &mut Vec<Note>) {}

/// Removes thinking and redacted-thinking blocks the target did not issue. `None`: the target
/// cannot take thinking back at all, so all of it goes.
pub fn strip_foreign_thinking(
    _messages: &mut [Message],
    _target: Option<&Target>,
    _notes: &mut Vec<Note>,
) {
}

/// Anthropic's block order: in assistant turns tool calls last; in user turns tool results first.
pub fn order_blocks(_messages: &mut [Message]) {}
