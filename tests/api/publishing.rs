//! What reaches CloudWatch: exact statistics, batch limits, bisection, retries.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use serde_json::json;

use crate::fake_cloudwatch::Fault;
use cw_sidecar::clock::ManualClock;

use crate::helpers::{
    Stats, TestApp, by_series, mid_window_ms, nearest_rank, now_ms, percentile_of_datums, sdk_config, until,
};

#[tokio::test]
async fn statistics_are_exact_and_percentiles_within_one_percent_over_thousands_of_records() {
    let app = TestApp::spawn(|_| {}).await;
    let mut rng = fastrand::Rng::with_seed(42);
    let ts = mid_window_ms();
    let mut raw: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for batch in 0..10 {
        let mut records = Vec::new();
        for i in 0..1000 {
            let service = format!("svc{}", (batch * 1000 + i) % 4);
            // A long-tailed latency: mostly tens of ms, sometimes seconds.
            let v = (rng.f64() * 3.0 + 1.0).exp() * if rng.u8(..20) == 0 { 40.0 } else { 1.0 };
            let v = (v * 1000.0).round() / 1000.0;
            raw.entry(service.clone()).or_default().push(v);
            records.push(json!({"name": "Latency", "value": v, "unit": "Milliseconds", "timestamp": ts, "dimensions": {"Service": service}}));
        }
        let (status, body) = app.post_json(json!(records)).await;
        assert_eq!((status, body["accepted"].as_u64()), (202, Some(1000)));
    }
    assert_eq!(app.flush().await.0, 200);
    let datums = app.fake.datums("Test");
    let series = by_series(&datums);
    assert_eq!(series.len(), 4);
    for ((_, dims), published) in &series {
        let samples = raw.get_mut(&dims["Service"]).unwrap();
        assert!(published.iter().all(|d| d.values.len() <= 150 && d.statistics.is_none()));
        assert!(published.iter().all(|d| d.unit.as_deref() == Some("Milliseconds")));
        Stats::of_datums(published).assert_close(&Stats::of_samples(samples), &dims["Service"]);
        for p in [50.0, 90.0, 99.0, 99.9] {
            let want = nearest_rank(samples, p);
            let got = percentile_of_datums(published, p);
            assert!(((got - want) / want).abs() <= 0.01, "{} p{p}: {got} vs {want}", dims["Service"]);
        }
    }
    app.shutdown().await;
}

#[tokio::test]
async fn statistic_sets_and_values_stay_in_separate_datums_and_add_up() {
    let app = TestApp::spawn(|_| {}).await;
    let ts = mid_window_ms();
    let body = json!([
        {"name": "Mixed", "values": [1, 2, 3], "counts": [2, 1, 1], "timestamp": ts},
        {"name": "Mixed", "statistics": {"sample_count": 10, "sum": 50, "min": 0.5, "max": 9}, "timestamp": ts},
        {"name": "Mixed", "statistics": {"sample_count": 5, "sum": 10, "min": 1, "max": 3}, "timestamp": ts},
    ]);
    assert_eq!(app.post_json(body).await.0, 202);
    app.flush().await;
    let datums = app.fake.datums("Test");
    assert_eq!(datums.len(), 2);
    assert!(datums.iter().all(|d| d.statistics.is_none() || d.values.is_empty()), "no datum mixes both");
    let stats = Stats::of_datums(&datums);
    assert_eq!(stats, Stats { count: 19.0, sum: 67.0, min: 0.5, max: 9.0 });
    app.shutdown().await;
}

#[tokio::test]
async fn one_datum_per_series_per_window_and_full_requests() {
    // More series of one metric than the default series budget lets through.
    let app = TestApp::spawn(|c| c.cardinality.max_series_per_metric = 5000).await;
    let ts = mid_window_ms();
    // 2500 series, each sent 3 times in one window, in requests of 500 records.
    let mut records = Vec::new();
    for round in 0..3 {
        for i in 0..2500 {
            records.push(
                json!({"name": "Requests", "value": round, "timestamp": ts, "dimensions": {"Route": format!("/r{i}")}}),
            );
        }
    }
    for chunk in records.chunks(500) {
        assert_eq!(app.post_json(json!(chunk)).await.0, 202);
    }
    app.flush().await;
    let requests = app.fake.requests();
    let datums: usize = requests.iter().map(|r| r.datums.len()).sum();
    assert_eq!(datums, 2500, "one datum per series-window");
    assert_eq!(requests.len(), 3, "ceil(2500 / 1000) requests");
    assert!(requests.iter().all(|r| r.datums.len() <= 1000 && r.body_bytes <= 1_000_000));
    assert!(requests.iter().any(|r| r.gzipped), "the SDK compresses large bodies");
    app.shutdown().await;
}

#[tokio::test]
async fn the_byte_limit_splits_requests_of_wide_distributions() {
    let app = TestApp::spawn(|_| {}).await;
    let ts = mid_window_ms();
    // 1000 series with 150 distinct values each: 1000 datums of 150 values, over 1 MB.
    for chunk in 0..10 {
        let records: Vec<_> = (0..100)
            .map(|i| {
                let values: Vec<f64> = (0..150).map(|v| v as f64 + 0.5).collect();
                json!({"name": "Wide", "values": values, "timestamp": ts, "dimensions": {"Id": format!("{}", chunk * 100 + i)}})
            })
            .collect();
        assert_eq!(app.post_json(json!(records)).await.0, 202);
    }
    app.flush().await;
    let requests = app.fake.requests();
    assert!(requests.len() >= 3, "{} requests", requests.len());
    assert!(requests.iter().all(|r| r.body_bytes <= 1_000_000));
    assert_eq!(requests.iter().map(|r| r.datums.len()).sum::<usize>(), 1000);
    app.shutdown().await;
}

#[tokio::test]
async fn an_invalid_datum_is_bisected_out_and_only_it_is_dropped() {
    let app = TestApp::spawn(|_| {}).await;
    let ts = mid_window_ms();
    let mut records: Vec<_> =
        (0..40).map(|i| json!({"name": format!("Good{i}"), "value": i, "timestamp": ts})).collect();
    records.insert(17, json!({"name": "InvalidOne", "value": 1, "timestamp": ts}));
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    let (status, counts) = app.flush().await;
    assert_eq!(status, 502, "{counts}");
    assert_eq!(counts["rejected"], 1);
    assert_eq!(counts["published"], 40);
    let names: Vec<String> = app.fake.datums("Test").into_iter().map(|d| d.name).collect();
    assert_eq!(names.len(), 40);
    assert!(!names.iter().any(|n| n.starts_with("Invalid")));
    assert_eq!(app.metric("cw_sidecar_datums_dropped_total", "reason=\"invalid\"").await, 1.0);
    // Bisection costs about log2(41) extra calls, not one per datum.
    assert!(app.fake.attempts() <= 15, "{} attempts", app.fake.attempts());
    app.shutdown().await;
}

#[tokio::test]
async fn the_sdk_classifies_the_fakes_throttling_as_throttling() {
    let fake = crate::fake_cloudwatch::FakeCloudWatch::start().await;
    fake.script([Fault::Throttle]);
    let client = aws_sdk_cloudwatch::Client::from_conf(
        sdk_config(&fake.url()).retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled()).build(),
    );
    let err = client.put_metric_data().namespace("Test").send().await.unwrap_err();
    let service_error = err.as_service_error().expect("a service error");
    assert_eq!(service_error.code(), Some("Throttling"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    // The SDK's retry classifier and ours both take the code as throttling.
    assert!(aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&"Throttling"));
    let class = cw_sidecar::publish::sink::classify(service_error.code(), Some(400));
    assert_eq!(class, cw_sidecar::publish::sink::ErrorClass::Throttled);
}

#[tokio::test]
async fn throttling_errors_and_access_denied_are_retried_until_published_once() {
    let app = TestApp::spawn(|_| {}).await;
    app.fake.script([Fault::Throttle, Fault::ServerError, Fault::AccessDenied, Fault::Throttle]);
    let ts = mid_window_ms();
    let records: Vec<_> = (0..50)
        .map(|i| json!({"name": "Jobs", "value": i, "timestamp": ts, "dimensions": {"Worker": format!("{i}")}}))
        .collect();
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    let (status, counts) = app.flush().await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(app.fake.attempts(), 5);
    let datums = app.fake.datums("Test");
    assert_eq!(datums.len(), 50, "each datum exactly once");
    assert_eq!(app.metric("cw_sidecar_throttled_requests_total", "").await, 2.0);
    assert_eq!(app.metric("cw_sidecar_put_metric_data_calls_total", "outcome=\"auth\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_publish_retries_total", "").await, 4.0);
    assert!(app.metric("cw_sidecar_put_rate_limit", "").await < 1000.0, "throttling lowered the rate");
    app.shutdown().await;
}

#[tokio::test]
async fn an_outage_and_slow_answers_lose_and_duplicate_nothing() {
    // Backoff and the flush's deadline run on a clock the test moves.
    let clock = ManualClock::new(now_ms());
    let app = TestApp::spawn_with_clock(
        |c| {
            c.publish_timeout = Duration::from_millis(300);
            c.shutdown_timeout = Duration::from_secs(1);
        },
        clock.clone(),
    )
    .await;
    let ts = mid_window_ms();
    app.fake.stop();
    let records: Vec<_> = (0..30)
        .map(|i| json!({"name": "Orders", "value": i, "timestamp": ts, "dimensions": {"Shop": format!("{i}")}}))
        .collect();
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    let flush = {
        let (http, base) = (app.http.clone(), app.base.clone());
        tokio::spawn(async move {
            let r = http.post(format!("{base}/v1/flush")).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        })
    };
    let transient = "outcome=\"transient\"";
    until("a failed attempt", async || app.metric("cw_sidecar_put_metric_data_calls_total", transient).await >= 1.0)
        .await;
    clock.advance(Duration::from_secs(1));
    let (status, counts) = flush.await.unwrap();
    assert_eq!(status, 503, "connections refused: still retrying ({counts})");
    assert_eq!(counts["retrying"], 30);
    assert_eq!(app.get("/readyz").await.0, 200, "an outage does not make the sidecar unready");
    app.fake.script([Fault::Slow(Duration::from_secs(2))]);
    app.fake.restart().await;
    until("recovery after the outage", async || {
        clock.advance(Duration::from_millis(500));
        app.fake.datums("Test").len() >= 30
    })
    .await;
    let mut names: Vec<_> = app.fake.datums("Test").into_iter().map(|d| d.dimensions["Shop"].clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 30);
    assert_eq!(app.fake.datums("Test").len(), 30, "no duplicates");
    assert!(app.metric("cw_sidecar_put_metric_data_calls_total", transient).await >= 2.0);
    app.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_spaces_calls() {
    let clock = ManualClock::new(now_ms());
    let app = TestApp::spawn_with_clock(|c| c.max_put_requests_per_second = 2, clock.clone()).await;
    let ts = mid_window_ms();
    // Six namespaces make six requests; at 2 per second, a burst of 2 and then one per 0.5 s.
    let records: Vec<_> =
        (0..6).map(|i| json!({"name": "X", "value": 1, "timestamp": ts, "namespace": format!("Ns{i}")})).collect();
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    let flush = {
        let (http, base) = (app.http.clone(), app.base.clone());
        tokio::spawn(async move { http.post(format!("{base}/v1/flush")).send().await.unwrap().status().as_u16() })
    };
    for expected in 2..=6 {
        until("the next call", async || app.fake.requests().len() >= expected).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(app.fake.requests().len(), expected, "no call before the clock allows it");
        clock.advance(Duration::from_millis(500));
    }
    assert_eq!(flush.await.unwrap(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn integer_timestamps_for_emulators_keep_every_field() {
    let app = TestApp::spawn(|c| c.integer_timestamps = Some(true)).await;
    let ts = mid_window_ms();
    let records: Vec<_> = (0..300)
        .map(|i| json!({"name": "Compat", "value": i, "timestamp": ts, "dimensions": {"I": format!("{i}")}}))
        .collect();
    assert_eq!(app.post_json(json!(records)).await.0, 202);
    assert_eq!(app.flush().await.0, 200);
    let requests = app.fake.requests();
    assert!(requests.iter().all(|r| !r.gzipped), "compression is off alongside the rewrite");
    let datums = app.fake.datums("Test");
    assert_eq!(datums.len(), 300);
    assert!(datums.iter().all(|d| d.timestamp_ms == ts - ts % 60_000 && d.values.len() == 1));
    assert!(datums.iter().all(|d| d.integer_timestamp));
    app.shutdown().await;
}
