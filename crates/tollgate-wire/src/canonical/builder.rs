//! The stream invariants, enforced and checked. STUB: filled in by the core work.

use super::{Note, Response, StreamEvent};

#[derive(Debug, Default)]
pub struct StreamBuilder {
    notes: Vec<Note>,
}

impl StreamBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        out.push(event);
    }

    pub fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}

    pub fn notes(&self) -> &[Note] {
        &self.notes
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub position: usize,
    pub message: String,
}

pub fn validate(_events: &[StreamEvent]) -> Result<(), Violation> {
    Ok(())
}

pub fn fix_response(_resp: &mut Response, _notes: &mut Vec<Note>) {}
