//! Windows, flushing and shutdown.

use std::time::{Duration, Instant};

use serde_json::json;

use cw_sidecar::clock::{Clock, ManualClock};

use crate::helpers::{TestApp, now_ms, until};

#[tokio::test]
async fn the_periodic_flush_publishes_closed_windows_only_and_late_data_as_an_extra_datum() {
    // The flush timer and the windows run on a clock the test moves: no sleeping for them.
    let clock = ManualClock::new(now_ms());
    let app = TestApp::spawn_with_clock(
        |c| {
            c.flush_interval = Duration::from_secs(1);
            c.window_grace = Duration::from_millis(200);
        },
        clock.clone(),
    )
    .await;
    let now = clock.now_ms();
    let closed = now - now % 60_000 - 60_000;
    let body = json!([
        {"name": "Closed", "value": 1, "timestamp": closed},
        {"name": "Open", "value": 1, "timestamp": now + 120_000},
    ]);
    assert_eq!(app.post_json(body).await.0, 202);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(app.fake.datums("Test").is_empty(), "nothing goes out before the flush interval");
    clock.advance(Duration::from_secs(1));
    until("the closed window", async || !app.fake.datums("Test").is_empty()).await;
    let names: Vec<String> = app.fake.datums("Test").into_iter().map(|d| d.name).collect();
    assert_eq!(names, vec!["Closed"], "only the closed window went out");
    // A straggler for the published window goes out as one more datum for it.
    assert_eq!(app.post_json(json!([{"name": "Closed", "value": 5, "timestamp": closed + 1}])).await.0, 202);
    clock.advance(Duration::from_secs(1));
    until("the straggler", async || app.fake.datums("Test").len() >= 2).await;
    let closed_datums: Vec<_> = app.fake.datums("Test").into_iter().filter(|d| d.name == "Closed").collect();
    assert_eq!(closed_datums.len(), 2);
    assert!(closed_datums.iter().all(|d| d.timestamp_ms == closed));
    let fake = app.fake.clone();
    let report = app.shutdown().await;
    assert!(report.complete());
    assert!(fake.datums("Test").iter().any(|d| d.name == "Open"), "shutdown published the open window");
}

#[tokio::test]
async fn high_resolution_records_aggregate_per_second() {
    let app = TestApp::spawn(|_| {}).await;
    let base = now_ms() - now_ms() % 1000 - 10_000;
    let records: Vec<_> = (0..30)
        .map(|i| json!({"name": "Hi", "value": 1, "storage_resolution": 1, "timestamp": base + i * 100}))
        .collect();
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    app.flush().await;
    let datums = app.fake.datums("Test");
    assert_eq!(datums.len(), 3, "three one-second windows");
    assert!(datums.iter().all(|d| d.storage_resolution == Some(1) && d.counts == vec![10.0]));
    app.shutdown().await;
}

#[tokio::test]
async fn shutdown_publishes_open_windows_and_refuses_new_records() {
    let mut app = TestApp::spawn(|c| c.self_metrics_namespace = "CWSidecar".into()).await;
    let records: Vec<_> =
        (0..100).map(|i| json!({"name": "Open", "value": i, "dimensions": {"N": format!("{i}")}})).collect();
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    // CloudWatch is down, so shutdown stays in its publishing phase, HTTP still served,
    // until it comes back. Nothing was published before: no connection to the fake is open.
    app.fake.stop();
    let shutting_down = app.begin_shutdown();
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.metric("cw_sidecar_put_metric_data_calls_total", "outcome=\"transient\"").await < 1.0 {
        assert!(Instant::now() < deadline, "shutdown did not start publishing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.get("/readyz").await.0, 503);

    let (status, body, headers) =
        app.post("application/json", json!([{"name": "DuringShutdown", "value": 1}]).to_string()).await;
    assert_eq!(status, 503, "{body}");
    let retry_after = headers.get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0), "Retry-After: {:?}", headers.get("retry-after"));
    assert!(body["error"].as_str().is_some_and(|e| e.contains("shutting down")), "{body}");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"shutting_down\"").await, 1.0);
    assert!(!shutting_down.is_finished(), "the post was answered while shutdown was still publishing");

    app.fake.restart().await;
    let fake = app.fake.clone();
    let report = shutting_down.report().await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(fake.datums("Test").len(), 100);
    let published: Vec<String> = fake.requests().into_iter().flat_map(|r| r.datums).map(|d| d.name).collect();
    assert!(!published.iter().any(|n| n == "DuringShutdown"), "the refused post was published: {published:?}");
    let self_metrics: Vec<String> = fake.datums("CWSidecar").into_iter().map(|d| d.name).collect();
    for name in [
        "Heartbeat",
        "RecordsAccepted",
        "RecordsRejected",
        "DatumsPublished",
        "DatumsDropped",
        "PublishFailures",
        "ThrottledRequests",
        "UdpDropped",
        "BufferedDatums",
    ] {
        assert!(self_metrics.iter().any(|n| n == name), "{name} missing from {self_metrics:?}");
    }
    let accepted = fake.datums("CWSidecar").into_iter().find(|d| d.name == "RecordsAccepted").unwrap();
    assert_eq!(accepted.values.iter().zip(&accepted.counts).map(|(v, c)| v * c).sum::<f64>(), 100.0);
    assert!(accepted.dimensions.is_empty(), "self metrics carry exactly the default dimensions");
}

#[tokio::test]
async fn shutdown_reports_what_it_could_not_publish() {
    let app = TestApp::spawn(|c| c.shutdown_timeout = Duration::from_millis(500)).await;
    app.fake.stop();
    assert_eq!(app.post_json(json!([{"name": "Stuck", "value": 1}])).await.0, 202);
    let report = app.shutdown().await;
    assert!(!report.complete());
    assert_eq!(report.counts.retrying, 1);
}
