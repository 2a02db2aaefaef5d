//! A fresh, empty store per test, for each backend, and the records the cases write.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: a schema of its own (`t_<pid>_<n>_<ns>`)
//! in the database of `TOLLGATE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), reached through `search_path`, and dropped when
//! the test ends, even when it fails. Tests never skip: an unreachable server fails them.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool, SqliteConnection, SqlitePool};
use tempfile::TempDir;
use tollgate_store::{ExchangeRecord, PolicyEvent, SessionUpdate, Store};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub store: Arc<dyn Store>,
    /// What `tollgate_store::open` takes to reach the same database again.
    target: String,
    backend: Backend,
    _dir: Option<TempDir>,
    _schema: Option<Schema>,
}

impl Harness {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("data/history.db");
                let path = path.to_str().expect("utf-8 temp path").to_owned();
                // A bare path here, a `sqlite://` URL on reopening: both ways in are used.
                let store = tollgate_store::open(&path).await.expect("open sqlite store");
                Self {
                    store,
                    target: format!("sqlite://{path}"),
                    backend,
                    _dir: Some(dir),
                    _schema: None,
                }
            }
            Backend::Postgres => {
                let schema = Schema::create().await;
                let store = tollgate_store::open(&schema.url).await.expect("open postgres store");
                Self {
                    store,
                    target: schema.url.clone(),
                    backend,
                    _dir: None,
                    _schema: Some(schema),
                }
            }
        }
    }

    /// A store over a database an older build wrote: migrations up to `version` applied, then
    /// `seed` (SQL statements for that schema) run, then opened as an upgraded gateway opens it,
    /// applying the migrations after `version`.
    pub async fn upgraded(backend: Backend, version: i64, seed: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let target = format!("sqlite://{}", dir.path().join("old.db").display());
                let options = SqliteConnectOptions::from_str(&target)
                    .expect("sqlite url")
                    .create_if_missing(true);
                let pool = SqlitePool::connect_with(options).await.expect("connect");
                sqlx::migrate!("./migrations/sqlite").run_to(version, &pool).await.expect("old");
                sqlx::raw_sql(sqlx::AssertSqlSafe(seed)).execute(&pool).await.expect("seed");
                pool.close().await;
                let store = tollgate_store::open(&target).await.expect("upgrade sqlite store");
                Self { store, target, backend, _dir: Some(dir), _schema: None }
            }
            Backend::Postgres => {
                let schema = Schema::create().await;
                let pool = PgPool::connect(&schema.url).await.expect("connect");
                sqlx::migrate!("./migrations/postgres").run_to(version, &pool).await.expect("old");
                sqlx::raw_sql(sqlx::AssertSqlSafe(seed)).execute(&pool).await.expect("seed");
                pool.close().await;
                let store = tollgate_store::open(&schema.url).await.expect("upgrade store");
                Self {
                    store,
                    target: schema.url.clone(),
                    backend,
                    _dir: None,
                    _schema: Some(schema),
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Opens the same database again, as a restarted gateway would (PostgreSQL through the
    /// other URL scheme, so both are used).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        let target = self.target.replacen("postgres://", "postgresql://", 1);
        tollgate_store::open(&target).await.expect("reopen store")
    }

    /// `(version, installed_on)` of every applied migration, read around the store.
    pub async fn migrations(&self) -> Vec<(i64, String)> {
        let sql =
            "SELECT version, CAST(installed_on AS TEXT) FROM _sqlx_migrations ORDER BY version";
        match self.backend {
            Backend::Sqlite => {
                let mut c = SqliteConnection::connect(&self.target).await.expect("connect");
                sqlx::query_as(sql).fetch_all(&mut c).await.expect("read migrations")
            }
            Backend::Postgres => {
                let mut c = PgConnection::connect(&self.target).await.expect("connect");
                sqlx::query_as(sql).fetch_all(&mut c).await.expect("read migrations")
            }
        }
    }
}

/// A PostgreSQL schema that exists for one test.
struct Schema {
    admin_url: String,
    name: String,
    /// The store's URL: the admin URL with `search_path` set to the schema.
    url: String,
}

impl Schema {
    async fn create() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url =
            std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name =
            format!("t_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut conn = match PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => panic!(
                "PostgreSQL is not reachable at {} ({e}). The store conformance suite runs \
                 every case against PostgreSQL too: start a server (`pg_ctlcluster <version> main \
                 start`, or `docker run -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test \
                 -p 5432:5432 postgres`) or point TOLLGATE_TEST_DATABASE_URL at one.",
                tollgate_store::redact_url(&admin_url)
            ),
        };
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .await
            .expect("create test schema");
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options[search_path]={name}");
        Self { admin_url, name, url }
    }
}

impl Drop for Schema {
    /// Drops the schema on a thread of its own: `Drop` cannot await, and it runs on a panic
    /// too, so a failed test leaves nothing behind.
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&url).await?;
                conn.execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
                    .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !std::thread::panicking() {
            assert!(matches!(dropped, Ok(Ok(()))), "dropping the test schema failed: {dropped:?}");
        }
    }
}

/// Base time of the records: 2023-11-14, in unix ms.
pub const T0: i64 = 1_700_000_000_000;

/// A UUIDv7-shaped id that sorts as `n` does.
pub fn id(n: u32) -> String {
    format!("018bcfe5-6800-7000-8000-{n:012}")
}

/// A record with every field set: exchange `n`, started `n` seconds after [`T0`], in `session`.
pub fn full(n: u32, session: &str) -> ExchangeRecord {
    ExchangeRecord {
        id: id(n),
        request_id: format!("req-{n}"),
        started_at_ms: T0 + i64::from(n) * 1000,
        client_dialect: "anthropic".into(),
        endpoint: "messages".into(),
        key_name: Some("team".into()),
        user_agent: Some("claude-cli/2.0.0 (external, cli)".into()),
        client: Some("claude-code".into()),
        session_id: Some(session.into()),
        provider: Some("anthropic".into()),
        model_requested: Some("claude-sonnet-4-5".into()),
        model_served: Some("claude-sonnet-4-5-20250929".into()),
        route_reason: Some("preset pattern".into()),
        route_category: Some("debug".into()),
        route_deployment: Some("anthropic:claude-sonnet-4-5".into()),
        route_decision: Some(r#"{"version":1,"mode":"auto"}"#.into()),
        stream: true,
        status: 200,
        outcome: "ok".into(),
        error_type: Some("overloaded_error".into()),
        error_message: Some("Überlastet — 过载".into()),
        input_tokens: 1200,
        output_tokens: 340,
        cache_read_tokens: 5000,
        cache_write_tokens: 77,
        cost_micros: 12_345,
        stop_reason: Some("end_turn".into()),
        ttfb_ms: Some(420),
        total_ms: 3100,
        upstream_request_id: Some(format!("msg_{n}")),
        request_body: Some(Bytes::from(format!(r#"{{"model":"claude-sonnet-4-5","n":{n}}}"#))),
        forwarded_body: Some(Bytes::from_static(b"{\"model\":\"claude-sonnet-4-5-20250929\"}")),
        // Bodies are bytes, not text: a stream may end mid-character.
        response_body: Some(Bytes::from_static(
            b"event: message_start\ndata: {}\n\n\xe2\x82\x00\xff",
        )),
        response_message: Some(Bytes::from_static(b"{\"role\":\"assistant\"}")),
        search_text: Some(format!("please refactor the parser number{n}")),
        bodies_purged_at_ms: None,
        session: Some(SessionUpdate {
            id: session.into(),
            source: "claude-code".into(),
            preview: Some("please refactor the parser".into()),
            cwd: Some("/home/dev/tollgate".into()),
            git_branch: Some("main".into()),
        }),
        hints: Vec::new(),
        policy_events: vec![
            PolicyEvent {
                id: format!("pe-{n}-1"),
                at_ms: T0 + i64::from(n) * 1000 + 5,
                policy: "secrets".into(),
                verdict: "redact".into(),
                reason: Some("an AWS key in the prompt".into()),
                detail: Some(r#"{"original":"AKIA…","final":"[redacted]"}"#.into()),
            },
            PolicyEvent {
                id: format!("pe-{n}-2"),
                at_ms: T0 + i64::from(n) * 1000 + 9,
                policy: "audit".into(),
                verdict: "observe".into(),
                reason: None,
                detail: None,
            },
        ],
    }
}

/// A record with only what is required: no session, no bodies, no events.
pub fn bare(n: u32) -> ExchangeRecord {
    ExchangeRecord {
        id: id(n),
        request_id: format!("req-{n}"),
        started_at_ms: T0 + i64::from(n) * 1000,
        client_dialect: "openai-chat".into(),
        endpoint: "chat_completions".into(),
        status: 200,
        outcome: "ok".into(),
        total_ms: 10,
        ..Default::default()
    }
}

/// What reading a record back gives: the session is stored on its own, not per exchange.
pub fn as_stored(mut r: ExchangeRecord) -> ExchangeRecord {
    r.session = None;
    r
}
