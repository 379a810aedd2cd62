//! Silently dead connections (`go_silent` / `resume`), seen over raw HTTP: open watches
//! stop sending anything, even their end at `timeoutSeconds`, new watches get no response,
//! the sockets stay open; lists keep working or not; muted connections stay mute.

mod client;

use std::time::Duration;

use client::{Client, WAIT, get, pod, watch};
use fake_apiserver::{FakeApiServer, Verb};

#[tokio::test]
async fn open_and_new_watches_go_silent_while_lists_keep_working() {
    let api = FakeApiServer::start().await;
    let rv = api.apply(pod("web-0", "10.0.0.1"));
    // Ends cleanly at timeoutSeconds=1 unless silenced.
    let mut open = watch(
        &api,
        &format!("/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion={rv}"),
    )
    .await;
    api.apply(pod("web-0", "10.0.0.2"));
    assert_eq!(open.event(WAIT).await.unwrap()["type"], "MODIFIED", "events flow before");

    api.go_silent(false);
    api.apply(pod("web-0", "10.0.0.3"));
    api.send_bookmarks();
    tokio::time::sleep(Duration::from_millis(1200)).await; // past timeoutSeconds
    assert!(open.stays_silent().await, "no event, no bookmark, no end at timeoutSeconds");
    assert_eq!(api.open_watches(), 1, "the stream is still open");

    // A new watch: no response at all, not even headers, and the connection stays open.
    let mut new = Client::connect(&api).await;
    new.send(&format!("/api/v1/pods?watch=true&resourceVersion={rv}")).await;
    assert!(new.stays_silent().await, "no response to a new watch");

    // Lists (on other connections) work.
    let (head, list) = get(&api, "/api/v1/pods").await;
    assert_eq!((head.status, list["items"][0]["status"]["podIP"].as_str()), (200, Some("10.0.0.3")));

    let log = api.request_log();
    let statuses: Vec<(Verb, Option<u16>)> = log.iter().map(|r| (r.verb, r.status)).collect();
    assert_eq!(
        statuses,
        [(Verb::Watch, Some(200)), (Verb::Watch, None), (Verb::List, Some(200))],
        "the unanswered watch is logged without a status"
    );

    // Resumed: new watches work; the connections that went silent stay silent.
    api.resume();
    let mut fresh = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={rv}")).await;
    for ip in ["10.0.0.2", "10.0.0.3"] {
        assert_eq!(fresh.event(WAIT).await.unwrap()["object"]["status"]["podIP"], ip, "replayed");
    }
    api.apply(pod("web-0", "10.0.0.4"));
    assert_eq!(fresh.event(WAIT).await.unwrap()["object"]["status"]["podIP"], "10.0.0.4");
    assert!(open.stays_silent().await, "a dead connection stays dead");
    assert!(new.stays_silent().await, "the unanswered watch stays unanswered");

    // drop_watches cuts them all, muted or not.
    api.drop_watches();
    for client in [&mut open, &mut new, &mut fresh] {
        assert!(client.ends().await.0, "cut");
    }
}

#[tokio::test]
async fn with_lists_too_every_connection_goes_mute() {
    let api = FakeApiServer::start().await;
    api.apply(pod("web-0", "10.0.0.1"));
    // An idle keep-alive connection, as in a client's pool.
    let mut pooled = Client::connect(&api).await;
    pooled.send("/api/v1/pods").await;
    let head = pooled.head(WAIT).await.unwrap();
    pooled.body(&head).await.unwrap();

    api.go_silent(true);
    pooled.send("/api/v1/pods").await;
    assert!(pooled.stays_silent().await, "a list on an open connection: no response");
    for target in ["/api/v1/pods", "/version", "/api/v1/namespaces/default/pods/web-0"] {
        let mut client = Client::connect(&api).await;
        client.send(target).await;
        assert!(client.stays_silent().await, "{target} on a new connection: no response");
    }
    assert!(api.request_log()[1..].iter().all(|r| r.status.is_none()), "{:?}", api.request_log());

    api.resume();
    let (head, _) = get(&api, "/api/v1/pods").await;
    assert_eq!(head.status, 200, "new connections are answered again");
    pooled.send("/version").await;
    assert!(pooled.stays_silent().await, "the pooled connection stays dead");

    api.drop_connections();
    assert!(pooled.ends().await.0, "until it is cut");

    // An outage cuts mute connections at once too.
    api.go_silent(true);
    let mut muted = Client::connect(&api).await;
    muted.send("/api/v1/pods").await;
    assert!(muted.stays_silent().await);
    let stopping = tokio::time::Instant::now();
    api.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(2), "stop took {:?}", stopping.elapsed());
    assert!(muted.ends().await.0);
}

#[tokio::test]
async fn hung_watches_get_headers_but_open_ones_are_untouched() {
    // set_hang_watches, the milder form, for contrast.
    let api = FakeApiServer::start().await;
    let rv = api.apply(pod("web-0", "10.0.0.1"));
    let mut open = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={rv}")).await;
    api.set_hang_watches(true);
    let mut hung = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={rv}")).await;
    api.apply(pod("web-0", "10.0.0.2"));
    assert_eq!(open.event(WAIT).await.unwrap()["type"], "MODIFIED", "an open watch still gets events");
    assert!(hung.stays_silent().await, "headers, then nothing");
}
