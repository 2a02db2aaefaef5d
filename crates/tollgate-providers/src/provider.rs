//! One configured provider and how a request to it is built.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_config::{AuthScheme, ProviderConfig, Secret};
use tollgate_wire::Dialect;

/// The provider operations Tollgate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Messages,
    CountTokens,
    ChatCompletions,
    /// OpenAI Responses (`/responses`).
    Responses,
    Models,
}

/// The Anthropic API version sent when a client did not say which it wants.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub dialect: Dialect,
    pub base_url: String,
    pub local: bool,
    /// Further dialects served natively at the same base URL.
    pub also_speaks: &'static [Dialect],
    /// Configured request transforms, replacing the built-in table (see [`crate::quirks`]).
    pub quirks: Option<tollgate_wire::canonical::Quirks>,
    auth: AuthScheme,
    key: Option<Secret>,
    extra_headers: HeaderMap,
}

#[derive(Debug, thiserror::Error)]
#[error("provider `{provider}`: header `{header}` is not a valid HTTP header")]
pub struct BadHeader {
    pub provider: String,
    pub header: String,
}

impl Provider {
    pub fn from_config(c: &ProviderConfig) -> Result<Self, BadHeader> {
        let mut extra_headers = HeaderMap::new();
        for (k, v) in &c.headers {
            let bad = || BadHeader { provider: c.name.clone(), header: k.clone() };
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad())?;
            let value = HeaderValue::from_str(v).map_err(|_| bad())?;
            extra_headers.insert(name, value);
        }
        Ok(Self {
            name: c.name.clone(),
            dialect: c.dialect(),
            base_url: c.base_url.clone(),
            local: c.preset.local,
            also_speaks: c.preset.also_speaks,
            quirks: c.quirks.clone(),
            auth: c.preset.auth,
            key: c.api_key.clone(),
            extra_headers,
        })
    }

    /// Whether clients of `dialect` can be passed through to this provider untranslated.
    pub fn speaks(&self, dialect: Dialect) -> bool {
        self.dialect == dialect || self.also_speaks.contains(&dialect)
    }

    /// The URL of `endpoint`, or `None` when this provider has no such operation.
    pub fn url(&self, endpoint: Endpoint) -> Option<String> {
        let responses = self.speaks(Dialect::OpenAiResponses);
        let path = match (self.dialect, endpoint) {
            (Dialect::Anthropic, Endpoint::Messages) => "/v1/messages",
            (Dialect::Anthropic, Endpoint::CountTokens) => "/v1/messages/count_tokens",
            (Dialect::Anthropic, Endpoint::Models) => "/v1/models",
            (Dialect::OpenAiChat, Endpoint::ChatCompletions) => "/chat/completions",
            (Dialect::OpenAiChat | Dialect::OpenAiResponses, Endpoint::Models) => "/models",
            (_, Endpoint::Responses) if responses => "/responses",
            (Dialect::Gemini, Endpoint::Models) => "/models",
            (Dialect::Ollama, Endpoint::Models) => "/api/tags",
            _ => return None,
        };
        Some(format!("{}{path}", self.base_url))
    }

    /// The URL a translated chat request goes to, in this provider's own dialect: always the
    /// streaming variant when `stream` (Tollgate streams upstream and assembles for clients
    /// that did not ask for a stream).
    pub fn chat_url(&self, model: &str, stream: bool) -> String {
        let base = &self.base_url;
        match self.dialect {
            Dialect::Anthropic => format!("{base}/v1/messages"),
            Dialect::OpenAiChat => format!("{base}/chat/completions"),
            Dialect::OpenAiResponses => format!("{base}/responses"),
            Dialect::Gemini if stream => {
                format!("{base}/models/{model}:streamGenerateContent?alt=sse")
            }
            Dialect::Gemini => format!("{base}/models/{model}:generateContent"),
            Dialect::Ollama => format!("{base}/api/chat"),
        }
    }

    /// Headers for an upstream request: the provider's auth (never the client's), its extra
    /// headers, then `passthrough` (client headers that matter upstream, already filtered).
    pub fn headers(&self, passthrough: &HeaderMap) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(passthrough.len() + 4);
        for (k, v) in passthrough {
            h.append(k.clone(), v.clone());
        }
        if let Some(key) = &self.key {
            let (name, value) = match self.auth {
                AuthScheme::XApiKey => {
                    (HeaderName::from_static("x-api-key"), key.expose().to_owned())
                }
                AuthScheme::Bearer => {
                    (http::header::AUTHORIZATION, format!("Bearer {}", key.expose()))
                }
                AuthScheme::GoogApiKey => {
                    (HeaderName::from_static("x-goog-api-key"), key.expose().to_owned())
                }
            };
            if let Ok(mut v) = HeaderValue::from_str(&value) {
                v.set_sensitive(true);
                h.insert(name, v);
            }
        }
        if self.dialect == Dialect::Anthropic && !h.contains_key("anthropic-version") {
            h.insert("anthropic-version", HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
        }
        for (k, v) in &self.extra_headers {
            h.insert(k.clone(), v.clone());
        }
        h
    }

    /// A prepared translated chat request: the dialect's chat URL for `model`, headers, body.
    pub fn chat_request(
        &self,
        client: &reqwest::Client,
        model: &str,
        passthrough: &HeaderMap,
        body: Bytes,
    ) -> reqwest::RequestBuilder {
        client
            .post(self.chat_url(model, true))
            .headers(self.headers(passthrough))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// A prepared request: URL, headers and body.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        endpoint: Endpoint,
        passthrough: &HeaderMap,
        body: Option<Bytes>,
    ) -> Option<reqwest::RequestBuilder> {
        let url = self.url(endpoint)?;
        let mut rb = client.request(method, url).headers(self.headers(passthrough));
        if let Some(body) = body {
            rb = rb.header(http::header::CONTENT_TYPE, "application/json").body(body);
        }
        Some(rb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn provider(env: &[(&str, &str)]) -> Vec<Provider> {
        let env: BTreeMap<String, String> =
            env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let c = tollgate_config::load(None, &env).unwrap();
        c.providers.iter().map(|p| Provider::from_config(p).unwrap()).collect()
    }

    #[test]
    fn anthropic_uses_x_api_key_and_a_default_version() {
        let p = &provider(&[("ANTHROPIC_API_KEY", "sk-real")])[0];
        assert_eq!(p.url(Endpoint::Messages).unwrap(), "https://api.anthropic.com/v1/messages");
        assert!(p.url(Endpoint::ChatCompletions).is_none());
        let mut client = HeaderMap::new();
        client.insert("anthropic-beta", HeaderValue::from_static("context-management-2025-06-27"));
        let h = p.headers(&client);
        assert_eq!(h["x-api-key"], "sk-real");
        assert_eq!(h["anthropic-version"], DEFAULT_ANTHROPIC_VERSION);
        assert_eq!(h["anthropic-beta"], "context-management-2025-06-27");
        assert!(!h.contains_key("authorization"));
    }

    #[test]
    fn openai_compatible_uses_bearer() {
        let p = &provider(&[
            ("OPENAI_API_KEY", "sk-o"),
            ("TOLLGATE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ])[0];
        assert_eq!(
            p.url(Endpoint::ChatCompletions).unwrap(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(p.headers(&HeaderMap::new())["authorization"], "Bearer sk-o");
        assert!(!p.headers(&HeaderMap::new()).contains_key("anthropic-version"));
    }
}
