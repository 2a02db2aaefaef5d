//! Which headers cross the gateway, each way. Allow-lists, not deny-lists: a header not named here
//! does not pass, so client credentials and hop-by-hop headers never reach a provider, and the
//! provider's account details never reach a client.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Client -> provider, by exact name.
const UPSTREAM: &[&str] =
    &["anthropic-version", "anthropic-beta", "idempotency-key", "user-agent", "openai-beta"];

/// Provider -> client, by exact name.
const DOWNSTREAM: &[&str] =
    &["retry-after", "retry-after-ms", "request-id", "openai-processing-ms", "openai-version"];

/// Provider -> client, by prefix (rate-limit state).
const DOWNSTREAM_PREFIXES: &[&str] = &["anthropic-ratelimit-", "x-ratelimit-"];

pub const REQUEST_ID: &str = "x-request-id";
/// The provider's own `x-request-id` (OpenAI) comes back under this name, because
/// `x-request-id` on a Tollgate response is always Tollgate's.
pub const UPSTREAM_REQUEST_ID: &str = "x-upstream-request-id";

pub fn upstream(client: &HeaderMap, request_id: &str) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(UPSTREAM.len() + 1);
    for name in UPSTREAM {
        for v in client.get_all(*name) {
            h.append(HeaderName::from_static(name), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID, v);
    }
    h
}

pub fn downstream(provider: &HeaderMap) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in provider {
        let name = k.as_str();
        if DOWNSTREAM.contains(&name) || DOWNSTREAM_PREFIXES.iter().any(|p| name.starts_with(p)) {
            h.append(k.clone(), v.clone());
        } else if name == REQUEST_ID {
            h.append(UPSTREAM_REQUEST_ID, v.clone());
        }
    }
    h
}

/// The provider's request id, for the history.
pub fn upstream_request_id(provider: &HeaderMap) -> Option<String> {
    provider
        .get("request-id")
        .or_else(|| provider.get(REQUEST_ID))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Sets `x-tollgate-provider`, `x-tollgate-model` and `x-tollgate-route` (values that are not
/// valid header text are left out).
pub fn set_route(h: &mut HeaderMap, provider: &str, model: &str, reason: &str) {
    for (name, value) in [
        ("x-tollgate-provider", provider),
        ("x-tollgate-model", model),
        ("x-tollgate-route", reason),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_headers_cross() {
        let mut client = HeaderMap::new();
        for (k, v) in [
            ("x-api-key", "gateway-key"),
            ("authorization", "Bearer g"),
            ("anthropic-beta", "a"),
            ("cookie", "c"),
            ("anthropic-version", "2023-06-01"),
        ] {
            client.insert(k, HeaderValue::from_static(v));
        }
        let up = upstream(&client, "rid");
        assert!(
            !up.contains_key("x-api-key")
                && !up.contains_key("authorization")
                && !up.contains_key("cookie")
        );
        assert_eq!(up["anthropic-beta"], "a");
        assert_eq!(up[REQUEST_ID], "rid");

        let mut prov = HeaderMap::new();
        for (k, v) in [
            ("retry-after", "3"),
            ("anthropic-ratelimit-requests-remaining", "9"),
            ("x-request-id", "req_up"),
            ("anthropic-organization-id", "org"),
            ("set-cookie", "s"),
        ] {
            prov.insert(k, HeaderValue::from_static(v));
        }
        let down = downstream(&prov);
        assert_eq!(down["retry-after"], "3");
        assert_eq!(down["anthropic-ratelimit-requests-remaining"], "9");
        assert_eq!(down[UPSTREAM_REQUEST_ID], "req_up");
        assert!(
            !down.contains_key("anthropic-organization-id")
                && !down.contains_key("set-cookie")
                && !down.contains_key("x-request-id")
        );
    }
}
