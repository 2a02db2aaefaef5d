//! Whole requests and responses between this dialect and the canonical model. STUB: to be
//! written.

use crate::InvalidBody;
use crate::canonical::{Note, Request, Response, Target};

/// A request body in this dialect, decoded.
pub fn decode_request(_body: &[u8]) -> Result<Request, InvalidBody> {
    Err(InvalidBody::new(None, "not implemented"))
}

/// A canonical request written for a provider of this dialect. Fields it cannot carry are
/// dropped and noted.
pub fn encode_request(_req: &Request, _target: &Target, _notes: &mut Vec<Note>) -> Vec<u8> {
    Vec::new()
}

/// A whole response body in this dialect, decoded.
pub fn decode_response(_body: &[u8]) -> Result<Response, InvalidBody> {
    Err(InvalidBody::new(None, "not implemented"))
}

/// A canonical response written for a client of this dialect.
pub fn encode_response(_resp: &Response, _notes: &mut Vec<Note>) -> Vec<u8> {
    Vec::new()
}
