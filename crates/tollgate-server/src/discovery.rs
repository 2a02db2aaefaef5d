//! Background probing of providers: each one's model list (`GET /v1/models`, `/models`, Ollama's
//! `/api/tags`), which
//! feeds routing ("a provider that lists it") and `GET /v1/models`, and its health, which feeds
//! `/health/ready`. Probes never run on the request path.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use serde::Deserialize;
use tollgate_providers::Endpoint;

use crate::state::{AppState, ProviderHealth};

/// How often providers are probed. Model lists change rarely; health between probes is also
/// visible from request outcomes in the logs.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(300);
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A model list in any provider's shape: OpenAI's and Anthropic's `data[].id`, Gemini's
/// `models[].name` (`models/gemini-2.5-flash`), Ollama's `/api/tags` `models[].name`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ModelList {
    Data { data: Vec<ModelId> },
    Models { models: Vec<ModelName> },
}

#[derive(Deserialize)]
struct ModelId {
    id: String,
}

#[derive(Deserialize)]
struct ModelName {
    name: String,
}

impl ModelList {
    fn ids(self) -> Vec<String> {
        match self {
            Self::Data { data } => data.into_iter().map(|m| m.id).collect(),
            Self::Models { models } => models
                .into_iter()
                .map(|m| m.name.strip_prefix("models/").map_or(m.name.clone(), str::to_owned))
                .collect(),
        }
    }
}

pub fn spawn(state: Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..state.providers.len())
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    probe(&state, i).await;
                    tokio::time::sleep(PROBE_INTERVAL).await;
                }
            })
        })
        .collect()
}

/// Probes provider `i` once and records what it found.
pub async fn probe(state: &AppState, i: usize) {
    let provider = &state.providers[i];
    let Some(rb) = provider.request(
        state.client.http(),
        Method::GET,
        Endpoint::Models,
        &HeaderMap::new(),
        None,
    ) else {
        return;
    };
    let result = tokio::time::timeout(PROBE_TIMEOUT, async {
        let resp = rb.send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    })
    .await;
    let (health, models) = match result {
        Err(_) => (ProviderHealth::Down(format!("no answer within {PROBE_TIMEOUT:?}")), None),
        Ok(Err(e)) => (ProviderHealth::Down(tollgate_providers::client::error_chain(&e)), None),
        Ok(Ok((status, body))) => match status.as_u16() {
            200..=299 => {
                let models: Option<Vec<String>> =
                    serde_json::from_slice::<ModelList>(&body).ok().map(ModelList::ids);
                (ProviderHealth::Up, models)
            }
            401 | 403 => {
                (ProviderHealth::Down(format!("credentials rejected (HTTP {status})")), None)
            }
            500..=599 => (ProviderHealth::Down(format!("HTTP {status}")), None),
            // Reachable, but no model list (404, 405): fine.
            _ => (ProviderHealth::Up, None),
        },
    };
    if let ProviderHealth::Down(reason) = &health {
        tracing::warn!(provider = %provider.name, reason = %reason, "provider probe failed");
    }
    state.metrics.set_upstream_up(&provider.name, health == ProviderHealth::Up);
    if let Ok(mut h) = state.health[i].write() {
        *h = health;
    }
    if let Some(models) = models {
        tracing::debug!(provider = %provider.name, models = models.len(), "provider models listed");
        if let Ok(mut guard) = state.catalog.write() {
            let mut next = (**guard).clone();
            next.providers[i].discovered = models;
            *guard = Arc::new(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_providers_model_list() {
        let ids = |b: &str| serde_json::from_str::<ModelList>(b).unwrap().ids();
        assert_eq!(ids(r#"{"data":[{"id":"gpt-4o","object":"model"}]}"#), ["gpt-4o"]);
        assert_eq!(
            ids(
                r#"{"models":[{"name":"models/gemini-2.5-flash","version":"001"}],"nextPageToken":"x"}"#
            ),
            ["gemini-2.5-flash"]
        );
        assert_eq!(
            ids(r#"{"models":[{"name":"qwen3:latest","model":"qwen3:latest"}]}"#),
            ["qwen3:latest"]
        );
    }
}
