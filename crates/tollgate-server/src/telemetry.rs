//! OpenTelemetry traces over OTLP/HTTP (protobuf): one `http.request` span per request, exported
//! in batches by the SDK's background thread. Off unless `[telemetry] otlp_endpoint` (or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) is set, and then free: no layer, no middleware, no span.
//!
//! What must not live here: metrics (`metrics.rs`), log formatting (the binary), request
//! decisions (the pipeline).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::Handle;
use tollgate_config::{TelemetryConfig, Timeouts};
use tracing::{Instrument, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

use crate::routes::RequestId;
use crate::state::AppState;

/// One export attempt, connect to answer. The OTLP default; a collector slower than this is
/// down as far as we are concerned, and the batch is dropped rather than queued behind it.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the last batch.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("trace export must be started inside the Tokio runtime")]
    NoRuntime,
    #[error("cannot build the HTTP client for trace export: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The trace pipeline while it runs. Dropping it without [`Tracing::shutdown`] loses the spans
/// not yet exported.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Starts the exporter when an endpoint is configured; `None` when tracing is off. Call
    /// from inside the Tokio runtime, which carries the exports.
    pub fn start(config: &TelemetryConfig) -> Result<Option<Self>, TelemetryError> {
        let Some(url) = config.traces_url() else { return Ok(None) };
        let runtime = Handle::try_current().map_err(|_| TelemetryError::NoRuntime)?;
        // The upstream client's builder: rustls with ring, no redirects, pooled connections.
        let client = tollgate_providers::UpstreamClient::new(&Timeouts {
            connect: EXPORT_TIMEOUT,
            first_byte: EXPORT_TIMEOUT,
            idle: EXPORT_TIMEOUT,
            keepalive: EXPORT_TIMEOUT,
        })?
        .http()
        .clone();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(OtlpClient { client, runtime })
            .with_endpoint(url)
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(EXPORT_TIMEOUT)
            .build()?;
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Some(Self { provider }))
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans: Tollgate's own at `info`
    /// and above, anyone's warnings, whatever the log level says.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        // Targets match by prefix: `tollgate` is every crate of ours and `tollgate::request`.
        let filter = Targets::new()
            .with_target("tollgate", LevelFilter::INFO)
            .with_default(LevelFilter::WARN);
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("tollgate"))
            .with_filter(filter)
    }

    /// Exports what is buffered and stops. Blocks a thread of the blocking pool, not the
    /// runtime, which has to carry the last export.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let result =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
                .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "trace export did not shut down cleanly"),
            Err(e) => tracing::warn!(error = %e, "trace export shutdown failed"),
        }
    }
}

/// Whether requests get a span: only when trace export is configured.
pub fn enabled(state: &AppState) -> bool {
    state.config.telemetry.otlp_endpoint.is_some()
}

/// Middleware: the `http.request` span, named for OpenTelemetry as `METHOD route`, a child of
/// the caller's `traceparent` when it sent one. It stays open until the response body ends, so
/// a stream's span lasts as long as the stream, and what the exchange logs lands in it.
pub async fn trace_request(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    let request_id = req.extensions().get::<RequestId>().map_or("", |r| r.0.as_str());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format_args!("{} {route}", req.method()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        request_id = %request_id,
        http.request.method = %req.method(),
        http.route = %route,
        url.path = %req.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
    // Fails only when no OpenTelemetry layer is installed, and then nothing is exported anyway.
    let _ = span.set_parent(parent);
    let resp = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", resp.status().as_u16());
    if resp.status().is_server_error() {
        span.record("otel.status_code", "error");
    }
    resp.map(|inner| Body::new(TracedBody { inner, span }))
}

/// A response body that holds its request's span open, and enters it while producing frames.
struct TracedBody {
    inner: Body,
    span: Span,
}

impl http_body::Body for TracedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The exporter's HTTP client. The SDK exports from its own thread, outside the runtime, and
/// reqwest needs Tokio's reactor: each export is spawned onto the runtime and awaited.
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: Handle,
}

#[async_trait::async_trait]
impl HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let export = async move {
            let request = reqwest::Request::try_from(request)?;
            let resp = tokio::time::timeout(EXPORT_TIMEOUT, client.execute(request))
                .await
                .map_err(|_| "the OTLP collector did not answer in time")??;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok::<_, HttpError>(out)
        };
        self.runtime.spawn(export).await?
    }
}
