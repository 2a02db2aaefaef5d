//! Google Gemini (`generateContent`, `streamGenerateContent?alt=sse`), a provider dialect.
//!
//! # Layout
//! - `convert`: whole requests and responses <-> canonical.
//! - `codec`: the SSE stream decoded into canonical events, and encoded from them.
//! - `schema`: JSON Schema cleaned down to Gemini's OpenAPI subset (tool parameters, response
//!   schemas).
//! - `wire`: the JSON shapes, typed.

pub mod codec;
pub mod convert;
pub mod schema;
mod wire;

/// The method path for `model`, relative to the API root (`.../v1beta/`):
/// `models/{model}:generateContent`, or `models/{model}:streamGenerateContent?alt=sse` (without
/// `alt=sse` Gemini streams one JSON array instead of SSE).
pub fn path(model: &str, stream: bool) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    if stream {
        format!("models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("models/{model}:generateContent")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_puts_the_model_in_the_method_name() {
        assert_eq!(
            super::path("gemini-2.5-flash", false),
            "models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            super::path("models/gemini-3-pro-preview", true),
            "models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
        );
    }
}
