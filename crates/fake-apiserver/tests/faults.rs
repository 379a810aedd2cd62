//! The fault controls other than silence (`silence.rs`), each driven over raw HTTP:
//! connections closed on accept or cut, a watch cut in the middle of an event, 429 with
//! Retry-After, 5xx on lists and on watches, continue tokens that expire; and the request
//! log the tests assert on.

mod client;

use client::{Client, QUIET, WAIT, get, names, pod, watch};
use fake_apiserver::{FakeApiServer, UNTIL_CLEARED, Verb};
use serde_json::{Value, json};

#[tokio::test]
async fn accept_and_close_closes_new_connections_without_a_response() {
    let api = FakeApiServer::start().await;
    // Accepted (the kernel completes a connect before the server accepts it).
    let mut before = Client::connect(&api).await;
    before.send("/healthz").await;
    assert_eq!(before.head(WAIT).await.unwrap().status, 200);
    api.set_accept_and_close(true);
    for _ in 0..3 {
        let mut client = Client::connect(&api).await;
        client.send("/version").await;
        let (ended, bytes) = client.ends().await;
        assert!(ended && bytes.is_empty(), "closed without a byte: {:?}", String::from_utf8_lossy(&bytes));
    }
    let closed = api.connection_log().iter().filter(|c| c.closed_on_accept).count();
    assert_eq!(closed, 3, "each attempt is logged");
    assert_eq!(api.request_log().len(), 1, "no request was read");

    before.send("/healthz").await;
    assert_eq!(before.head(WAIT).await.unwrap().status, 200, "a connection accepted before still works");
    api.drop_connections();
    assert!(before.ends().await.0, "drop_connections cuts it");

    api.set_accept_and_close(false);
    assert_eq!(get(&api, "/version").await.0.status, 200);
    let log = api.connection_log();
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(!log.last().unwrap().closed_on_accept);
}

#[tokio::test]
async fn a_watch_is_cut_in_the_middle_of_an_event() {
    let api = FakeApiServer::start().await;
    let rv = api.apply(pod("web-0", "10.0.0.1"));
    let mut client = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={rv}")).await;
    api.cut_next_watch_event();
    api.apply(pod("web-0", "10.0.0.2"));
    let half = client.chunk(WAIT).await.expect("half an event").expect("not the end");
    let text = String::from_utf8_lossy(&half).into_owned();
    assert!(text.starts_with("{\"type\":\"MODIFIED\"") && !text.ends_with('\n'), "{text}");
    assert!(serde_json::from_slice::<Value>(&half).is_err(), "not a whole object: {text}");
    let (ended, rest) = client.ends().await;
    assert!(ended && rest.is_empty(), "aborted without the terminating chunk: {rest:?}");

    // One-shot: the next watch gets whole events.
    let mut next = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={rv}")).await;
    assert_eq!(next.event(WAIT).await.unwrap()["object"]["status"]["podIP"], "10.0.0.2");
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_to_lists_and_watches() {
    let api = FakeApiServer::start().await;
    api.apply(pod("web-0", "10.0.0.1"));
    api.throttle(2, 3);
    assert_eq!(
        get(&api, "/api/v1/namespaces/default/pods/web-0").await.0.status,
        200,
        "GETs are not throttled"
    );
    for target in ["/api/v1/pods?limit=500", "/api/v1/pods?watch=true"] {
        let (head, status) = get(&api, target).await;
        assert_eq!((head.status, head.header("retry-after")), (429, Some("3")), "{target}");
        assert_eq!(status["reason"], "TooManyRequests");
        assert_eq!(status["message"], "Too many requests, please try again later.");
        assert_eq!(status["details"], json!({"retryAfterSeconds": 3}));
    }
    assert_eq!(get(&api, "/api/v1/pods?limit=500").await.0.status, 200, "two, then no more");

    // The request log says when each came and what it got.
    let log = api.request_log();
    let seen: Vec<(Verb, Option<u16>)> = log.iter().map(|r| (r.verb, r.status)).collect();
    assert_eq!(
        seen,
        [(Verb::Get, Some(200)), (Verb::List, Some(429)), (Verb::Watch, Some(429)), (Verb::List, Some(200))]
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));

    api.throttle(UNTIL_CLEARED, 1);
    for _ in 0..5 {
        assert_eq!(get(&api, "/api/v1/pods").await.0.status, 429);
    }
    api.throttle(0, 0);
    assert_eq!(get(&api, "/api/v1/pods").await.0.status, 200);
    assert_eq!(api.list_count(), 2, "only the lists that succeeded count");
}

#[tokio::test]
async fn lists_and_watches_fail_separately_with_the_real_status() {
    let api = FakeApiServer::start().await;
    let rv = api.apply(pod("web-0", "10.0.0.1"));
    api.fail_lists(503, 2);
    api.fail_watches(504, 1);
    let watch_target = format!("/api/v1/pods?watch=true&resourceVersion={rv}");
    let (head, status) = get(&api, &watch_target).await;
    assert_eq!((head.status, status["reason"].as_str()), (504, Some("Timeout")));
    assert!(watch(&api, &watch_target).await.stays_silent().await, "the next watch is a stream");
    for _ in 0..2 {
        let (head, status) = get(&api, "/api/v1/pods").await;
        assert_eq!((head.status, status["reason"].as_str()), (503, Some("ServiceUnavailable")));
        assert_eq!((status["kind"].as_str(), status["code"].as_u64()), (Some("Status"), Some(503)));
        assert_eq!(head.header("retry-after"), None);
    }
    assert_eq!(names(&get(&api, "/api/v1/pods").await.1), ["web-0"]);

    api.fail_lists(500, UNTIL_CLEARED);
    for _ in 0..3 {
        let (head, status) = get(&api, "/api/v1/pods?limit=1").await;
        assert_eq!((head.status, status["reason"].as_str()), (500, Some("InternalError")));
    }
    assert_eq!(get(&api, "/api/v1/namespaces/default/pods/web-0").await.0.status, 200, "not GETs");
    api.fail_lists(500, 0);
    assert_eq!(get(&api, "/api/v1/pods").await.0.status, 200);
    assert_eq!((api.list_count(), api.watch_count()), (2, 1));
}

#[tokio::test]
#[should_panic(expected = "not an error")]
async fn a_failure_must_be_an_error_status() {
    let api = FakeApiServer::start().await;
    api.fail_lists(200, 1);
}

const INCONSISTENT: &str = "The provided continue parameter is too old to display a consistent list result. \
    You can start a new list without the continue parameter, or use the continue token in this response to \
    retrieve the remainder of the results. Continuing with the provided token results in an inconsistent \
    list - objects that were created, modified, or deleted between the time the first chunk was returned \
    and now may show up in the list.";

#[tokio::test]
async fn the_next_continue_token_expires_with_the_real_410() {
    let api = FakeApiServer::start().await;
    for (name, ip) in [("web-0", "10.0.0.1"), ("web-1", "10.0.0.2"), ("web-2", "10.0.0.3")] {
        api.apply(pod(name, ip));
    }
    let (_, first) = get(&api, "/api/v1/pods?limit=1").await;
    let token = first["metadata"]["continue"].as_str().expect("a continue token").to_string();
    let list_rv = first["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    api.expire_next_continue();
    let (head, status) = get(&api, &format!("/api/v1/pods?limit=1&continue={token}")).await;
    assert_eq!(
        (head.status, status["reason"].as_str(), status["code"].as_u64()),
        (410, Some("Expired"), Some(410))
    );
    assert_eq!(status["message"], INCONSISTENT);
    let inconsistent =
        status["metadata"]["continue"].as_str().expect("an inconsistent continuation").to_string();

    // One-shot: the token still works, on the consistent snapshot.
    let (head, page) = get(&api, &format!("/api/v1/pods?limit=1&continue={token}")).await;
    assert_eq!((head.status, names(&page)), (200, vec!["web-1"]));
    assert_eq!(page["metadata"]["resourceVersion"].as_str(), Some(list_rv.as_str()));

    // The inconsistent continuation lists the current state after the last item sent.
    api.apply(pod("web-1a", "10.0.0.4"));
    let (head, rest) = get(&api, &format!("/api/v1/pods?continue={inconsistent}")).await;
    assert_eq!((head.status, names(&rest)), (200, vec!["web-1", "web-1a", "web-2"]));
    assert_ne!(rest["metadata"]["resourceVersion"].as_str(), Some(list_rv.as_str()));

    // Compaction expires every outstanding token the same way.
    api.expire_history();
    let (head, status) = get(&api, &format!("/api/v1/pods?limit=1&continue={token}")).await;
    assert_eq!((head.status, status["message"].as_str()), (410, Some(INCONSISTENT)));
}

#[tokio::test]
async fn the_request_log_has_every_request() {
    let api = FakeApiServer::start().await;
    let started = tokio::time::Instant::now();
    let rv = api.apply(pod("web-0", "10.0.0.1"));
    get(&api, "/api/v1").await;
    get(&api, "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500").await;
    get(&api, "/api/v1/nosuchthings").await;
    let mut w = watch(&api, &format!("/api/v1/pods?watch=1&resourceVersion={rv}")).await;
    tokio::time::sleep(QUIET).await;
    get(&api, "/api/v1/namespaces/default/pods/web-0").await;
    let log = api.request_log();
    let summary: Vec<(&str, Verb, Option<u16>)> = log.iter().map(|r| (r.path(), r.verb, r.status)).collect();
    assert_eq!(
        summary,
        [
            ("/api/v1", Verb::Other, Some(200)),
            ("/api/v1/namespaces/default/pods", Verb::List, Some(200)),
            ("/api/v1/nosuchthings", Verb::Other, Some(404)),
            ("/api/v1/pods", Verb::Watch, Some(200)),
            ("/api/v1/namespaces/default/pods/web-0", Verb::Get, Some(200)),
        ]
    );
    assert_eq!(log[1].query("labelSelector"), Some("app%3Dweb"));
    assert_eq!(log[1].query("continue"), None);
    assert_eq!(log[3].query("resourceVersion"), Some(rv.to_string().as_str()));
    assert_eq!(log[0].method, "GET");
    assert!(log[0].at >= started);
    assert!(log[4].at.duration_since(log[3].at) >= QUIET, "the times are when each came");
    assert_eq!(api.requests()[1], "GET /api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500");
    assert!(w.stays_silent().await);
}

#[tokio::test]
async fn compaction_forgets_the_events_up_to_a_version_and_no_later_ones() {
    let api = FakeApiServer::start().await;
    api.apply(pod("web-0", "10.0.0.1"));
    let first = api.apply(pod("web-1", "10.0.0.2"));
    let (_, page) = get(&api, "/api/v1/pods?limit=1").await;
    let old_token = page["metadata"]["continue"].as_str().expect("a continue token").to_string();
    let second = api.apply(pod("web-2", "10.0.0.3"));
    let third = api.apply(pod("web-3", "10.0.0.4"));
    let (_, page) = get(&api, "/api/v1/pods?limit=1").await;
    let new_token = page["metadata"]["continue"].as_str().expect("a continue token").to_string();
    api.compact_to(second);

    // From before the compacted version: 410 Gone, with the real message.
    let mut client = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={first}")).await;
    let event = client.event(WAIT).await.expect("an ERROR event");
    assert_eq!((event["type"].as_str(), event["object"]["code"].as_u64()), (Some("ERROR"), Some(410)));
    assert_eq!(
        event["object"]["message"].as_str(),
        Some(format!("too old resource version: {first} ({second})").as_str())
    );
    // From the compacted version on: the later events are still there.
    let mut client = watch(&api, &format!("/api/v1/pods?watch=true&resourceVersion={second}")).await;
    let event = client.event(WAIT).await.expect("the later event");
    assert_eq!(event["object"]["metadata"]["resourceVersion"].as_str(), Some(third.to_string().as_str()));
    // A list older than the compaction can no longer continue; a newer one can.
    let (head, status) = get(&api, &format!("/api/v1/pods?limit=1&continue={old_token}")).await;
    assert_eq!((head.status, status["reason"].as_str()), (410, Some("Expired")));
    let (head, page) = get(&api, &format!("/api/v1/pods?limit=1&continue={new_token}")).await;
    assert_eq!((head.status, names(&page)), (200, vec!["web-1"]));
}
