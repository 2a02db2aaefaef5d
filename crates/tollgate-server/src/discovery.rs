//! Background probing of providers: each one's model list (`GET /v1/models`, `/models`, Ollama's
//! `/api/tags`), which
//! feeds routing ("a provider that lists it") and `GET /v1/models`, and its health, which feeds
//! `/health/ready`. Probes never run on the request path.
//!
//! Local runtimes are probed more often (`routing.probe_interval`), and Ollama is also asked
//! what it has loaded (`GET /api/ps`, with each model's VRAM): routing prefers what is loaded
//! when the runtime is under GPU memory pressure (`gpu_memory`, `gpu_pressure`).

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
                let interval = if state.config.providers[i].local {
                    state.config.routing.probe_interval
                } else {
                    PROBE_INTERVAL
                };
                loop {
                    probe(&state, i).await;
                    tokio::time::sleep(interval).await;
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
    let up = health == ProviderHealth::Up;
    // Everything a probe asks is asked before it reports: whoever waits for the first probe
    // (readiness, the test harness) sees no probe request after it.
    let status =
        if up && state.config.providers[i].local { local_status(state, i).await } else { None };
    state.metrics.set_upstream_up(&provider.name, up);
    if let Ok(mut h) = state.health[i].write() {
        *h = health;
    }
    if let Some(models) = &models {
        tracing::debug!(provider = %provider.name, models = models.len(), "provider models listed");
    }
    if let Ok(mut guard) = state.catalog.write() {
        let mut next = (**guard).clone();
        let entry = &mut next.providers[i];
        entry.up = Some(up);
        if let Some(models) = models {
            entry.discovered = models;
        }
        if let Some(status) = status {
            entry.status = status;
        }
        *guard = Arc::new(next);
    }
}

/// What an Ollama runtime has loaded (`GET /api/ps`), and whether that puts it under GPU memory
/// pressure against the configured limit. `None` for other runtimes or when it cannot tell.
async fn local_status(state: &AppState, i: usize) -> Option<tollgate_routing::plan::LocalStatus> {
    let cfg = &state.config.providers[i];
    if !cfg.preset.name.starts_with("ollama") {
        return None;
    }
    // Ollama's native API sits beside its OpenAI-compatible one, under the base URL without the
    // preset's `/v1`.
    let base = cfg.base_url.trim_end_matches('/');
    let root = cfg.preset.required_suffix.and_then(|sfx| base.strip_suffix(sfx)).unwrap_or(base);
    let url = format!("{root}/api/ps");
    let resp = tokio::time::timeout(PROBE_TIMEOUT, state.client.http().get(&url).send())
        .await
        .ok()?
        .ok()?;
    let body = tokio::time::timeout(PROBE_TIMEOUT, resp.bytes()).await.ok()?.ok()?;
    let loaded = loaded_models(&body)?;
    let used: u64 = loaded.iter().map(|(_, vram)| vram).sum();
    let pressure = cfg
        .gpu_memory
        .is_some_and(|limit| limit > 0 && used as f64 / limit as f64 >= cfg.gpu_pressure);
    if pressure {
        tracing::info!(provider = %cfg.name, used_bytes = used, "local runtime under GPU memory pressure");
    }
    Some(tollgate_routing::plan::LocalStatus { loaded, pressure })
}

/// `/api/ps`: `{"models": [{"name": "qwen3:8b", "size_vram": 5000000000, ...}]}`.
fn loaded_models(body: &[u8]) -> Option<Vec<(String, u64)>> {
    #[derive(Deserialize)]
    struct Ps {
        models: Vec<Loaded>,
    }
    #[derive(Deserialize)]
    struct Loaded {
        name: String,
        #[serde(default)]
        size_vram: u64,
    }
    let ps: Ps = serde_json::from_slice(body).ok()?;
    Some(ps.models.into_iter().map(|m| (m.name, m.size_vram)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_ollama_has_loaded() {
        let body = br#"{"models":[{"name":"qwen3:8b","model":"qwen3:8b","size":6000,"size_vram":5000,"expires_at":"2026-11-22T10:00:00Z"},{"name":"nomic","size":10}]}"#;
        assert_eq!(
            loaded_models(body).unwrap(),
            [("qwen3:8b".to_owned(), 5000), ("nomic".to_owned(), 0)]
        );
        assert!(loaded_models(b"<html>").is_none());
    }

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
