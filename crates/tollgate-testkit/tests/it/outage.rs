//! The history database goes away under load and comes back: clients never notice, and every
//! record is written once it returns, in order, with nothing lost or duplicated.
//!
//! PostgreSQL is reached through a TCP proxy that this test can cut (every connection dropped,
//! new ones refused), which is what a stopped or unreachable database looks like to the gateway,
//! without stopping the server other tests share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tollgate_store::ExchangeFilter;
use tollgate_testkit::TestGateway;
use tollgate_testkit::gateway::anthropic_body;

fn database_url() -> String {
    std::env::var("TOLLGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A TCP proxy to PostgreSQL that can be cut and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Notify::new());
        let (u, c) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let c = c.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    let cut = c.notified();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_mid_load_loses_nothing() {
    let admin_url = database_url();
    let schema = format!("t_outage_{:08x}", rand::random::<u32>());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running at {admin_url} (.ci/run starts it): {e}")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();

    let host_port =
        admin_url.split('@').nth(1).and_then(|r| r.split('/').next()).unwrap().to_owned();
    let proxy = Proxy::start(host_port.clone()).await;
    let url = admin_url.replacen(&host_port, &format!("127.0.0.1:{}", proxy.port), 1);
    let url = format!("{url}?options=-c%20search_path%3D{schema}");
    let gw = TestGateway::builder().env("TOLLGATE_DATABASE_URL", &url).start().await;

    let send = |i: usize| {
        gw.anthropic(&anthropic_body("claude-sonnet-4-5", i.is_multiple_of(2)))
            .header("x-request-id", format!("outage-{i:03}"))
            .send()
    };
    for i in 0..20 {
        let r = send(i).await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap();
    }
    gw.state.recorder.flush().await;

    proxy.down();
    for i in 20..60 {
        let r = send(i).await.unwrap();
        assert_eq!(r.status(), 200, "clients must not notice the database outage");
        r.text().await.unwrap();
    }
    // The records wait in the journal while the database is away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gw.state.recorder.spool_bytes() > 0);

    proxy.restore();
    tokio::time::timeout(Duration::from_secs(30), gw.state.recorder.flush())
        .await
        .expect("the journal drains once the database is back");
    let rows = gw
        .store
        .list_exchanges(&ExchangeFilter { limit: Some(1000), ..Default::default() })
        .await
        .unwrap();
    let mut ids: Vec<String> = rows.iter().map(|r| r.request_id.clone()).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no duplicates");
    let expected: Vec<String> = (0..60).map(|i| format!("outage-{i:03}")).collect();
    assert_eq!(ids, expected);
    // Written in order: ids are time-ordered UUIDv7s, so the newest-first list is by id.
    assert!(rows.windows(2).all(|w| w[0].id > w[1].id));

    drop(gw);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
}
