//! `/admin/history/...`: requests made through the gateway, read back over the admin API with
//! the master key: lists and filters, paging, search, one exchange, sessions, exports, titles.

use serde_json::{Value, json};
use tollgate_testkit::TestGateway;
use tollgate_testkit::gateway::{KEY, anthropic_body, openai_body};

const CLIENT_KEY: &str = "tg-client-key";

async fn gateway() -> TestGateway {
    TestGateway::builder()
        .toml(&format!("[[auth.keys]]\nname = \"laptop\"\nkey = \"{CLIENT_KEY}\"\n"))
        .start()
        .await
}

/// An Anthropic request saying `words`, in the session `x-session-id: session`.
fn said(words: &str, stream: bool) -> Value {
    let mut body = anthropic_body("claude-sonnet-4-5", stream);
    body["messages"] = json!([{"role": "user", "content": words}]);
    body
}

async fn get(gw: &TestGateway, path: &str) -> (u16, Value) {
    let r = gw.client.get(gw.url(path)).header("x-api-key", KEY).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Three exchanges: two in the session `hdr:refactor` (one streamed), one OpenAI one.
async fn with_history() -> TestGateway {
    let gw = gateway().await;
    for (words, stream) in
        [("rename the parser module", false), ("now fix the xylophone test", true)]
    {
        let r = gw
            .anthropic(&said(words, stream))
            .header("x-session-id", "refactor")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
    }
    let r = gw.openai(&openai_body("gpt-4o", false)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(gw.history().await.len(), 3);
    gw
}

#[tokio::test]
async fn only_the_master_key_reads_the_history() {
    let gw = gateway().await;
    let path = gw.url("/admin/history/exchanges");
    let r = gw.client.get(&path).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert!(v["error"]["message"].as_str().unwrap().contains("master key"), "{v}");
    let r = gw.client.get(&path).header("x-api-key", "tg-nope").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = gw.client.get(&path).bearer_auth(CLIENT_KEY).send().await.unwrap();
    assert_eq!(r.status(), 403, "a client key is known but not allowed");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "permission_denied");
    for write in [
        gw.client.put(gw.url("/admin/history/sessions/x/title")).bearer_auth(CLIENT_KEY),
        gw.client.get(gw.url("/admin/history/sessions/x/export")),
    ] {
        assert!(matches!(write.send().await.unwrap().status().as_u16(), 401 | 403));
    }
    let r = gw.client.get(&path).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = gw.client.get(&path).header("x-api-key", KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"data": [], "next_before": null}));
}

#[tokio::test]
async fn lists_filter_and_page_newest_first() {
    let gw = with_history().await;
    let (status, v) = get(&gw, "/admin/history/exchanges").await;
    assert_eq!(status, 200);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["provider"], "openai", "newest first");
    assert_eq!(data[2]["model_requested"], "claude-sonnet-4-5");
    assert_eq!(data[2]["session_id"], "hdr:refactor");
    assert_eq!(data[2]["key_name"], "master");
    assert!(data[2].get("request_body").is_none(), "lists carry no bodies");
    assert_eq!(v["next_before"], Value::Null);

    let (_, v) = get(&gw, "/admin/history/exchanges?provider=anthropic&status=200&since=1h").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let (_, v) = get(&gw, "/admin/history/exchanges?model=gpt-4o").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let (_, v) = get(&gw, "/admin/history/exchanges?session=hdr:refactor&key=master").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let (_, v) = get(&gw, "/admin/history/exchanges?until=2020-01-01").await;
    assert!(v["data"].as_array().unwrap().is_empty());

    // Pages of two: the cursor leads to the rest, and the last page says so.
    let (_, first) = get(&gw, "/admin/history/exchanges?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_before"].as_str().unwrap();
    assert_eq!(cursor, first["data"][1]["id"]);
    let (_, second) = get(&gw, &format!("/admin/history/exchanges?limit=2&before={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_before"], Value::Null);

    for (query, param) in [
        ("status=ok", "status"),
        ("limit=-1", "limit"),
        ("since=last%20tuesday", "since"),
        ("modle=gpt-4o", "modle"),
    ] {
        let (status, v) = get(&gw, &format!("/admin/history/exchanges?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{query}");
        assert_eq!(v["error"]["param"], param, "{query}: {v}");
    }
}

#[tokio::test]
async fn one_exchange_in_full_with_bodies_as_json() {
    let gw = with_history().await;
    let (_, list) = get(&gw, "/admin/history/exchanges?model=claude-sonnet-4-5").await;
    let streamed = list["data"].as_array().unwrap().iter().find(|e| e["stream"] == true).unwrap();
    let (status, e) =
        get(&gw, &format!("/admin/history/exchanges/{}", streamed["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert_eq!(e["request_body"]["messages"][0]["content"], "now fix the xylophone test");
    assert!(
        e["response_body"].as_str().unwrap().contains("event: message_start"),
        "a stream stays text"
    );
    assert_eq!(e["client_dialect"], "anthropic");
    assert!(e["policy_events"].as_array().unwrap().is_empty());

    let (status, v) =
        get(&gw, "/admin/history/exchanges/0193a000-0000-7000-8000-00000000dead").await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn search_finds_a_word_from_a_request_made_through_the_gateway() {
    let gw = with_history().await;
    let (status, v) = get(&gw, "/admin/history/search?q=xylophone").await;
    assert_eq!(status, 200);
    let hits = v["data"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{v}");
    assert_eq!(hits[0]["exchange"]["session_id"], "hdr:refactor");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("\u{ab}xylophone\u{bb}"), "{v}");
    // The mock's answer is searchable too, and filters narrow.
    let (_, v) = get(&gw, "/admin/history/search?q=mock&provider=openai").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    let (_, v) = get(&gw, "/admin/history/search?q=xylophone&model=gpt-4o").await;
    assert!(v["data"].as_array().unwrap().is_empty());

    let (status, v) = get(&gw, "/admin/history/search").await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "q");
}

#[tokio::test]
async fn sessions_list_show_export_and_take_a_title() {
    let gw = with_history().await;
    let (_, v) = get(&gw, "/admin/history/sessions?since=1h").await;
    let sessions = v["data"].as_array().unwrap();
    let s = sessions.iter().find(|s| s["id"] == "hdr:refactor").unwrap();
    assert_eq!(s["exchange_count"], 2);
    assert_eq!(s["source"], "header");
    assert_eq!(s["preview"], "rename the parser module");

    let (status, v) = get(&gw, "/admin/history/sessions/hdr:refactor").await;
    assert_eq!(status, 200);
    assert_eq!(v["session"]["id"], "hdr:refactor");
    assert_eq!(v["exchanges"].as_array().unwrap().len(), 2);
    let (status, _) = get(&gw, "/admin/history/sessions/hdr:nope").await;
    assert_eq!(status, 404);

    // Markdown: the user's words and the mock's replies, streamed or not.
    let r = gw
        .client
        .get(gw.url("/admin/history/sessions/hdr:refactor/export?format=markdown"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/markdown; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"session-hdr_refactor.md\""
    );
    let md = r.text().await.unwrap();
    for want in [
        "# rename the parser module\n",
        "**User**\n\nrename the parser module\n",
        "**User**\n\nnow fix the xylophone test\n",
        "Hello from the mock",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    assert_eq!(md.matches("Hello from the mock").count(), 2, "{md}");

    let r = gw
        .client
        .get(gw.url("/admin/history/sessions/hdr:refactor/export?format=json"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["session"]["id"], "hdr:refactor");
    assert_eq!(doc["exchanges"].as_array().unwrap().len(), 2);
    assert_eq!(
        doc["exchanges"][0]["request_body"]["messages"][0]["content"],
        "rename the parser module"
    );

    let r = gw
        .client
        .get(gw.url("/admin/history/sessions/hdr:refactor/export?format=jsonl"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));

    let (status, v) = get(&gw, "/admin/history/sessions/hdr:refactor/export?format=pdf").await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("unknown export format `pdf`"));
    let (status, _) = get(&gw, "/admin/history/sessions/hdr:nope/export").await;
    assert_eq!(status, 404);

    // Titles: set, shown in the export, cleared by an empty one.
    let title = gw.url("/admin/history/sessions/hdr:refactor/title");
    let r = gw
        .client
        .put(&title)
        .bearer_auth(KEY)
        .json(&json!({"title": "Parser refactor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["title"], "Parser refactor");
    let md = gw
        .client
        .get(gw.url("/admin/history/sessions/hdr:refactor/export"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.starts_with("# Parser refactor\n"), "{md}");
    assert!(md.contains("> rename the parser module\n"), "the first prompt under the title:\n{md}");
    let r =
        gw.client.put(&title).bearer_auth(KEY).json(&json!({"title": ""})).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["title"], Value::Null);
    let r = gw.client.put(&title).bearer_auth(KEY).body("{\"name\": 1}").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = gw
        .client
        .put(&title)
        .bearer_auth(KEY)
        .json(&json!({"title": "x".repeat(201)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = gw
        .client
        .put(gw.url("/admin/history/sessions/hdr:nope/title"))
        .bearer_auth(KEY)
        .json(&json!({"title": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_quiet_session_gets_a_title_from_the_configured_model() {
    let gw = TestGateway::builder()
        .env("TOLLGATE_HISTORY_TITLE_MODEL", "anthropic:claude-haiku-4-5")
        .env("TOLLGATE_HISTORY_TITLE_AFTER", "1s")
        .start()
        .await;
    let r = gw
        .anthropic(&said("please rename the parser module and fix its tests", false))
        .header("x-session-id", "s1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await.unwrap();
    assert_eq!(gw.history().await.len(), 1);
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 1);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;

    // Not quiet for long enough yet: nothing happens.
    assert_eq!(tollgate_server::titles::title_round_at(&gw.state, now - 60_000).await, 0);
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 1);

    assert_eq!(tollgate_server::titles::title_round_at(&gw.state, now + 2_000).await, 1);
    let calls = gw.upstream_requests("/v1/messages");
    assert_eq!(calls.len(), 2, "exactly one title call");
    let call = calls[1].json();
    assert_eq!(call["model"], "claude-haiku-4-5");
    assert_eq!(call["max_tokens"], 30);
    // Written through the canonical model: system and content as blocks.
    assert!(call["system"][0]["text"].as_str().unwrap().contains("3 to 7 words"), "{call}");
    assert_eq!(
        call["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "please rename the parser module and fix its tests"}]}])
    );
    assert_eq!(calls[1].headers["x-api-key"], tollgate_testkit::gateway::ANTHROPIC_UPSTREAM_KEY);

    let reply = "Hello from the mock. You said: please rename the parser module and fix its tests";
    let expected: String = reply.chars().take(80).collect::<String>().trim_end().to_owned();
    let session = gw.store.get_session("hdr:s1").await.unwrap().unwrap();
    assert_eq!(session.title.as_deref(), Some(expected.as_str()));
    assert!(expected.chars().count() <= 80);
    assert_eq!(gw.history().await.len(), 1, "the title call is not recorded as an exchange");

    // Titled sessions are left alone.
    assert_eq!(tollgate_server::titles::title_round_at(&gw.state, now + 120_000).await, 0);
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 2);
}

#[tokio::test]
async fn a_failed_title_call_is_retried_after_a_backoff_not_every_round() {
    let gw = TestGateway::builder()
        .env("TOLLGATE_HISTORY_TITLE_MODEL", "anthropic:claude-haiku-4-5")
        .env("TOLLGATE_HISTORY_TITLE_AFTER", "1s")
        .start()
        .await;
    let r = gw.anthropic(&said("fix the build", false)).header("x-session-id", "s1").send().await;
    assert_eq!(r.unwrap().status(), 200);
    assert_eq!(gw.history().await.len(), 1);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    gw.mock.enqueue(tollgate_testkit::Behaviour::Status {
        status: 500,
        body: "{\"type\":\"error\"}".into(),
        headers: vec![],
    });
    assert_eq!(tollgate_server::titles::title_round_at(&gw.state, now + 2_000).await, 0);
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 2);
    // The next rounds within the backoff do not call again.
    assert_eq!(tollgate_server::titles::title_round_at(&gw.state, now + 62_000).await, 0);
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 2);
    assert_eq!(gw.store.get_session("hdr:s1").await.unwrap().unwrap().title, None);
    // After it, the session is titled.
    assert_eq!(tollgate_server::titles::title_round_at(&gw.state, now + 200_000).await, 1);
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 3);
    assert_eq!(
        gw.store.get_session("hdr:s1").await.unwrap().unwrap().title.as_deref(),
        Some("Hello from the mock. You said: fix the build")
    );
    assert_eq!(gw.history().await.len(), 1);
}
