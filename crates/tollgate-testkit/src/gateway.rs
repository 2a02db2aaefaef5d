//! The gateway in-process on a random port, in front of a [`MockUpstream`], with its own data
//! directory and SQLite history.

#![expect(
    clippy::expect_used,
    reason = "test harness: a setup failure is a test failure, with its reason"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate_server::Gateway;
use tollgate_server::state::AppState;
use tollgate_store::{ExchangeRecord, SqliteStore, Store};

use crate::mock::MockUpstream;

pub const KEY: &str = "tg-test-master-key";
pub const ANTHROPIC_UPSTREAM_KEY: &str = "sk-ant-upstream";
pub const OPENAI_UPSTREAM_KEY: &str = "sk-openai-upstream";
pub const GEMINI_UPSTREAM_KEY: &str = "gemini-upstream-key";

pub struct TestGateway {
    pub addr: SocketAddr,
    pub mock: MockUpstream,
    /// The store the gateway writes to (SQLite unless `TOLLGATE_DATABASE_URL` says otherwise).
    pub store: Arc<dyn Store>,
    /// The same store when it is SQLite, for tests that need to close it.
    pub sqlite: Option<Arc<SqliteStore>>,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Builds a gateway configuration; tests add what they need.
pub struct Builder {
    env: BTreeMap<String, String>,
    toml: Option<String>,
    every_dialect: bool,
}

impl Builder {
    /// Adds (or overrides) one environment variable as the config loader sees it.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.to_owned(), v.to_owned());
        self
    }

    /// A `tollgate.toml` body.
    pub fn toml(mut self, text: &str) -> Self {
        self.toml = Some(text.to_owned());
        self
    }

    /// Adds a provider of every other dialect on the same mock: `gemini` (by its key variable),
    /// `ollama-native` and `openai-responses` (from the file), beside the default Anthropic and
    /// OpenAI Chat providers.
    pub fn every_dialect(mut self) -> Self {
        self.every_dialect = true;
        self
    }

    pub async fn start(self) -> TestGateway {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mock = MockUpstream::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env: BTreeMap<String, String> = [
            ("TOLLGATE_DATA_DIR", dir.path().display().to_string()),
            ("TOLLGATE_MASTER_KEY", KEY.to_owned()),
            ("ANTHROPIC_API_KEY", ANTHROPIC_UPSTREAM_KEY.to_owned()),
            ("TOLLGATE_ANTHROPIC_BASE_URL", mock.url()),
            ("OPENAI_API_KEY", OPENAI_UPSTREAM_KEY.to_owned()),
            ("TOLLGATE_OPENAI_BASE_URL", mock.openai_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut toml = self.toml;
        if self.every_dialect {
            env.insert("GEMINI_API_KEY".into(), GEMINI_UPSTREAM_KEY.into());
            env.insert("TOLLGATE_GEMINI_BASE_URL".into(), format!("{}/v1beta", mock.url()));
            let extra = format!(
                "[providers.ollama-native]\nbase_url = \"{}\"\n[providers.openai-responses]\nbase_url = \"{}\"\napi_key = \"{OPENAI_UPSTREAM_KEY}\"\n",
                mock.url(),
                mock.openai_url()
            );
            toml = Some(toml.map_or(extra.clone(), |t| format!("{t}\n{extra}")));
        }
        env.extend(self.env);
        let file = toml.map(|text| {
            let p = dir.path().join("tollgate.toml");
            std::fs::write(&p, text).expect("write config");
            p
        });
        let config = tollgate_config::load(file.as_deref(), &env).unwrap_or_else(|e| panic!("{e}"));
        let (store, sqlite): (Arc<dyn Store>, _) = match &config.database_url {
            Some(url) => (tollgate_store::open(url).await.expect("open store"), None),
            None => {
                let s =
                    Arc::new(SqliteStore::open(&config.sqlite_path()).await.expect("open store"));
                (s.clone(), Some(s))
            }
        };
        let gateway = Gateway::new(config, store.clone()).expect("build gateway");
        let state = gateway.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway.serve(listener, async move {
            let _ = rx.await;
        }));
        // Startup probes (model discovery) also reach the mock and would take scripted
        // behaviours meant for the test; let them land first.
        for _ in 0..1000 {
            let probed = state.health.iter().all(|h| {
                h.read().is_ok_and(|h| *h != tollgate_server::state::ProviderHealth::Unknown)
            });
            if probed {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        TestGateway {
            addr,
            mock,
            store,
            sqlite,
            state,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }
}

impl TestGateway {
    pub fn builder() -> Builder {
        Builder { env: BTreeMap::new(), toml: None, every_dialect: false }
    }

    /// A gateway with Anthropic and OpenAI providers pointing at one mock.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST /v1/messages` as Claude Code sends it.
    pub fn anthropic(&self, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/v1/messages?beta=true"))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// `POST /v1/chat/completions` as the OpenAI SDK sends it.
    pub fn openai(&self, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// `POST /v1/responses` as the OpenAI SDK (and Codex) sends it.
    pub fn responses(&self, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/v1/responses"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// `GET path` with the master key, as JSON (admin API, `/v1/models`).
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.client.get(self.url(path)).bearer_auth(KEY).send().await.expect("send");
        resp.json().await.expect("a JSON answer")
    }

    /// `POST path` with the master key and a JSON body, as JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Value {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(KEY)
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        resp.json().await.expect("a JSON answer")
    }

    /// Requests the mock received on one path (model discovery also calls the mock).
    pub fn upstream_requests(&self, path_prefix: &str) -> Vec<crate::RecordedRequest> {
        self.mock.requests().into_iter().filter(|r| r.path.starts_with(path_prefix)).collect()
    }

    /// Every recorded exchange, oldest first, after the writer has caught up.
    pub async fn history(&self) -> Vec<ExchangeRecord> {
        self.state.recorder.flush().await;
        let mut all = self.store.recent(10_000).await.expect("read history");
        all.reverse();
        all
    }

    /// Signals shutdown and waits for the gateway to stop.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.begin_shutdown();
        self.wait().await
    }

    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn wait(&mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(t) => t.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        }
    }
}

/// A minimal valid Anthropic request.
pub fn anthropic_body(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello"}]
    })
}

/// A minimal valid OpenAI request.
pub fn openai_body(model: &str, stream: bool) -> Value {
    serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

/// Parses an SSE body into (event name, JSON data) pairs.
pub fn sse_events(body: &str) -> Vec<(Option<String>, Value)> {
    let mut d = tollgate_wire::sse::SseDecoder::new();
    let mut frames = Vec::new();
    d.feed(body.as_bytes(), &mut frames);
    frames
        .into_iter()
        .map(|f| (f.event, serde_json::from_str(&f.data).unwrap_or(Value::String(f.data))))
        .collect()
}
