//! The one pooled upstream client. HTTP/1.1 keep-alive everywhere, HTTP/2 where the server
//! offers it through ALPN. The connect timeout lives in the client; the first-byte timeout wraps
//! `send` (which resolves at response headers); the idle timeout is applied per body chunk by
//! the caller, which owns the stream.

use std::sync::Once;
use std::time::Duration;

use tollgate_config::Timeouts;

#[derive(Debug, Clone)]
pub struct UpstreamClient {
    inner: reqwest::Client,
    first_byte: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not connect to the provider: {0}")]
    Connect(String),
    #[error("the provider did not answer within {0:?}")]
    FirstByteTimeout(Duration),
    #[error("request to the provider failed: {0}")]
    Other(String),
}

static CRYPTO: Once = Once::new();

impl UpstreamClient {
    pub fn new(timeouts: &Timeouts) -> Result<Self, reqwest::Error> {
        CRYPTO.call_once(|| {
            // Only fails when a provider is already installed, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let inner = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(30))
            // Providers answer with JSON or SSE; redirects would leak the provider key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { inner, first_byte: timeouts.first_byte })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends and waits for response headers, at most the first-byte timeout.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, SendError> {
        match tokio::time::timeout(self.first_byte, rb.send()).await {
            Err(_) => Err(SendError::FirstByteTimeout(self.first_byte)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if e.is_connect() => Err(SendError::Connect(error_chain(&e))),
            Ok(Err(e)) if e.is_timeout() => Err(SendError::FirstByteTimeout(self.first_byte)),
            Ok(Err(e)) => Err(SendError::Other(error_chain(&e))),
        }
    }
}

/// The error and its causes in one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
