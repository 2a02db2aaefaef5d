//! `GenerateContentResponse` bodies <-> canonical responses. Only the first candidate is read
//! (Tollgate never asks for more).

use super::{
    blocks_of_parts, finish_reason, model_parts, parse, stop_reason, usage, usage_metadata,
};
use crate::InvalidBody;
use crate::canonical::{Note, Response, StopReason};
use crate::gemini::wire::{Candidate, Content, GenerateContentResponse};

pub(super) fn decode(body: &[u8]) -> Result<Response, InvalidBody> {
    let wire: GenerateContentResponse = parse(body)?;
    if let Some(error) = wire.error {
        return Err(InvalidBody::new(
            Some("error".to_owned()),
            format!("Gemini answered with an error: {}", error.message),
        ));
    }
    let id = wire.response_id.unwrap_or_default();
    let mut calls = 0usize;
    let candidate = wire.candidates.into_iter().next();
    let finish = candidate.as_ref().and_then(|c| c.finish_reason.clone());
    let parts = candidate.and_then(|c| c.content).map(|c| c.parts).unwrap_or_default();
    let content = blocks_of_parts(parts, &id, &mut calls);
    let blocked = wire.prompt_feedback.and_then(|f| f.block_reason).is_some();
    let stop_reason = match finish {
        Some(finish) => Some(stop_reason(&finish, calls > 0)),
        None if blocked => Some(StopReason::Refusal),
        None => None,
    };
    Ok(Response {
        id,
        model: wire.model_version.unwrap_or_default(),
        content,
        stop_reason,
        stop_sequence: None,
        usage: wire.usage_metadata.as_ref().map(usage).unwrap_or_default(),
    })
}

pub(super) fn encode(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    // The client replays what it gets, so every signature goes out as received.
    let parts = model_parts(&resp.content, &|_| true, notes);
    let wire = GenerateContentResponse {
        candidates: vec![Candidate {
            content: Some(Content { parts, role: Some("model".to_owned()) }),
            finish_reason: Some(finish_reason(resp.stop_reason.as_ref())),
            index: Some(0),
        }],
        prompt_feedback: None,
        usage_metadata: Some(usage_metadata(&resp.usage)),
        model_version: Some(resp.model.clone()),
        response_id: Some(resp.id.clone()),
        error: None,
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}
