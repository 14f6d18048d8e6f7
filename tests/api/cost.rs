//! Cost control through every input: the same `[[metrics]]` rule (drop `session_id`, roll
//! up by `status`) and the same series budget (4 series per metric) apply to our JSON,
//! StatsD/DogStatsD tags, EMF dimension sets, OTLP attributes, scraped and remote-written labels, and what
//! reaches the fake CloudWatch is checked series by series: the first series keep their
//! place, the rest join the metric's `AllOther` series, and the totals stay exact.

use std::time::Duration;

use cw_sidecar::config::{Config, MetricRuleConfig, OverflowPolicy, TargetConfig};
use serde_json::{Value, json};

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, TestApp, by_series, now_ms, until};
use crate::line_app::LineApp;
use crate::scrape::{FakeTarget, scrapes};

/// Paths of the five records; each has `status = 200` and a `session_id` of its own.
const PATHS: [&str; 5] = ["/a", "/b", "/c", "/d", "/e"];

fn cost_control(c: &mut Config, overflow: OverflowPolicy) {
    c.metrics = vec![MetricRuleConfig {
        matches: "hits*".into(),
        drop_dimensions: vec!["session_id".into()],
        rollups: vec![vec!["status".into()]],
        ..MetricRuleConfig::default()
    }];
    c.cardinality.max_series_per_metric = 4;
    c.cardinality.overflow = overflow;
}

/// What every input must have published for the five records, whatever their order: the
/// rollup by `status`, three series by path, and one `AllOther` series for the other two.
fn check_published(datums: &[ReceivedDatum], name: &str) {
    let hits: Vec<ReceivedDatum> = datums.iter().filter(|d| d.name == name).cloned().collect();
    assert!(hits.iter().all(|d| !d.dimensions.contains_key("session_id")), "session_id is dropped: {hits:?}");
    let series = by_series(&hits);
    let dims: Vec<Vec<(&str, &str)>> =
        series.keys().map(|(_, d)| d.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()).collect();
    assert_eq!(series.len(), 5, "4 series and the overflow one: {dims:?}");
    let rollup = series.iter().find(|((_, d), _)| d.len() == 1 && d["status"] == "200").expect("the rollup");
    assert_eq!(Stats::of_datums(rollup.1).count, 5.0, "the rollup covers every record");
    let other = series.iter().find(|((_, d), _)| d.get("path").map(String::as_str) == Some("AllOther"));
    let (other_dims, other) = other.unwrap_or_else(|| panic!("an AllOther series in {dims:?}"));
    assert_eq!(other_dims.1["status"], "AllOther", "every dimension's value is replaced");
    assert_eq!(Stats::of_datums(other).count, 2.0);
    let by_path: Vec<&String> = series.keys().filter_map(|(_, d)| d.get("path")).collect();
    assert_eq!(by_path.iter().filter(|p| PATHS.contains(&p.as_str())).count(), 3, "{dims:?}");
    // Exact: the series by path (AllOther included) count every record once.
    let per_path: f64 =
        series.iter().filter(|((_, d), _)| d.contains_key("path")).map(|(_, s)| Stats::of_datums(s).count).sum();
    assert_eq!(per_path, 5.0);
}

fn records() -> Value {
    let metrics: Vec<Value> = PATHS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"name": "hits", "value": 1, "unit": "Count", "timestamp": now_ms(),
            "dimensions": {"path": p, "status": "200", "session_id": format!("s{i}")}})
        })
        .collect();
    json!({"namespace": "Test", "metrics": metrics})
}

#[tokio::test]
async fn json_records_take_the_rule_and_the_budget_and_the_bill_shows_them() {
    let app = TestApp::spawn(|c| cost_control(c, OverflowPolicy::Aggregate)).await;
    let (status, answer) = app.post_json(records()).await;
    assert_eq!((status, &answer["accepted"]), (202, &json!(5)), "{answer}");
    assert_eq!(app.metric("cw_sidecar_series_overflow_records_total", "bound=\"max_series_per_metric\"").await, 2.0);
    let (status, cost) = app.get("/v1/cost").await;
    assert_eq!(status, 200);
    let cost: Value = serde_json::from_str(&cost).unwrap();
    assert_eq!(cost["active_series"], 5, "{cost:#}");
    assert_eq!(cost["overflow_series"], 1);
    assert_eq!(cost["series_by_namespace"], json!({"Test": 5}));
    assert_eq!(cost["overflowed_records"], 2);
    assert_eq!(cost["refused_records"], 0);
    let top = &cost["top_metrics"][0];
    assert_eq!((&top["namespace"], &top["name"], &top["series"]), (&json!("Test"), &json!("hits"), &json!(5)));
    assert_eq!(top["widest_dimension"], "path");
    // Five series at $0.30 a month (no self metrics in these tests), no call made yet.
    assert_eq!(cost["estimate"]["metrics_usd_per_month"], 1.5);
    assert_eq!(cost["estimate"]["requests_usd_per_month"], 0.0);
    assert_eq!(app.flush().await.0, 200);
    let (_, cost) = app.get("/v1/cost").await;
    let cost: Value = serde_json::from_str(&cost).unwrap();
    let calls = cost["put_metric_data_calls_last_hour"].as_u64().unwrap();
    assert!(calls >= 1, "{cost:#}");
    let requests = cost["estimate"]["requests_usd_per_month"].as_f64().unwrap();
    assert!((requests - calls as f64 * 730.0 * 0.01 / 1000.0).abs() < 1e-3, "{cost:#}");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    check_published(&fake.datums("Test"), "hits");
}

#[tokio::test]
async fn over_the_budget_a_json_record_is_refused_naming_the_bound() {
    let app = TestApp::spawn(|c| cost_control(c, OverflowPolicy::Refuse)).await;
    let (status, answer) = app.post_json(records()).await;
    assert_eq!((status, &answer["accepted"]), (202, &json!(3)), "{answer}");
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.iter().map(|r| r["index"].as_u64().unwrap()).collect::<Vec<_>>(), [3, 4], "{answer}");
    let error = rejected[0]["error"].as_str().unwrap();
    for part in ["`hits`", "cardinality.max_series_per_metric = 4", "4 active"] {
        assert!(error.contains(part), "{error:?} names {part}");
    }
    assert_eq!(app.metric("cw_sidecar_series_refused_records_total", "bound=\"max_series_per_metric\"").await, 2.0);
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"series_budget\"").await, 2.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let series = by_series(&fake.datums("Test"));
    assert_eq!(series.len(), 4, "{:?}", series.keys());
}

fn statsd_lines() -> String {
    PATHS.iter().enumerate().map(|(i, p)| format!("hits:1|c|#path:{p},status:200,session_id:s{i}\n")).collect()
}

#[tokio::test]
async fn statsd_tags_take_the_same_rule_and_budget() {
    let app = LineApp::spawn("statsd", |c| cost_control(c, OverflowPolicy::Aggregate)).await;
    app.send_udp(&statsd_lines()).await;
    app.wait_lines("accepted", 5.0).await;
    let fake = app.shutdown().await;
    check_published(&fake.datums("Test"), "hits");
}

#[tokio::test]
async fn statsd_lines_over_the_budget_are_counted_drops() {
    let app = LineApp::spawn("statsd", |c| cost_control(c, OverflowPolicy::Refuse)).await;
    app.send_udp(&statsd_lines()).await;
    app.wait_lines("rejected", 2.0).await;
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"series_budget\"").await, 2.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"accepted\"").await, 3.0);
    app.shutdown().await;
}

fn emf_document() -> String {
    // One document per record: EMF's dimensions are the document's.
    PATHS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{{"Namespace":"Test","Dimensions":[["path","status","session_id"]],"Metrics":[{{"Name":"hits","Unit":"Count"}}]}}]}},"path":"{p}","status":"200","session_id":"s{i}","hits":1}}"#,
                now_ms()
            ) + "\n"
        })
        .collect()
}

#[tokio::test]
async fn emf_dimension_sets_take_the_same_rule_and_budget() {
    let app = LineApp::spawn("emf", |c| cost_control(c, OverflowPolicy::Aggregate)).await;
    app.send_udp(&emf_document()).await;
    app.wait_lines("accepted", 5.0).await;
    let fake = app.shutdown().await;
    check_published(&fake.datums("Test"), "hits");
}

#[tokio::test]
async fn emf_datums_over_the_budget_are_counted_drops() {
    let app = LineApp::spawn("emf", |c| cost_control(c, OverflowPolicy::Refuse)).await;
    app.send_udp(&emf_document()).await;
    app.wait_lines("dropped", 2.0).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"accepted\"").await, 3.0);
    app.shutdown().await;
}

fn otlp_document() -> Value {
    let t = (now_ms() as u64 * 1_000_000).to_string();
    let points: Vec<Value> = PATHS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let attr = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
            json!({"timeUnixNano": t, "asDouble": 1.0,
                "attributes": [attr("path", p), attr("status", "200"), attr("session_id", &format!("s{i}"))]})
        })
        .collect();
    json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "hits", "unit": "1", "gauge": {"dataPoints": points}}]}]}]})
}

async fn post_otlp(app: &TestApp, doc: &Value) -> (u16, Value) {
    let url = format!("{}/v1/metrics", app.base);
    let r = app.http.post(url).header("content-type", "application/json").body(doc.to_string()).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn otlp_attributes_take_the_same_rule_and_budget() {
    let app = TestApp::spawn(|c| cost_control(c, OverflowPolicy::Aggregate)).await;
    let (status, answer) = post_otlp(&app, &otlp_document()).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("partialSuccess").is_none_or(|p| p.get("rejectedDataPoints").is_none()), "{answer}");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    check_published(&fake.datums("Test"), "hits");
}

#[tokio::test]
async fn otlp_points_over_the_budget_are_a_partial_success() {
    let app = TestApp::spawn(|c| cost_control(c, OverflowPolicy::Refuse)).await;
    let (status, answer) = post_otlp(&app, &otlp_document()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], 2, "{answer}");
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("cardinality.max_series_per_metric = 4"), "{message}");
    app.shutdown().await;
}

async fn scraped(overflow: OverflowPolicy) -> (TestApp, String) {
    let body: String = PATHS
        .iter()
        .enumerate()
        .map(|(i, p)| format!("hits{{path=\"{p}\",status=\"200\",session_id=\"s{i}\"}} 1\n"))
        .collect();
    let target = FakeTarget::start(
        Duration::ZERO,
        Box::new(move |_| (vec![("content-type", "text/plain; version=0.0.4".into())], body.clone().into_bytes())),
    )
    .await;
    let url = target.url();
    let app = TestApp::spawn(|c| {
        cost_control(c, overflow);
        c.scrape.namespace = Some("Test".into());
        c.scrape.interval = Duration::from_secs(3600);
        c.scrape.targets = vec![TargetConfig::new(url.clone())];
    })
    .await;
    until("the first scrape", async || scrapes(&app, &url, "success").await >= 1.0).await;
    (app, url)
}

#[tokio::test]
async fn scraped_labels_take_the_same_rule_and_budget() {
    let (app, _) = scraped(OverflowPolicy::Aggregate).await;
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    check_published(&fake.datums("Test"), "hits");
}

#[tokio::test]
async fn scraped_series_over_the_budget_are_refused_and_counted_per_target() {
    let (app, url) = scraped(OverflowPolicy::Refuse).await;
    let labels = format!("target=\"{url}\",reason=\"series_budget\"");
    assert_eq!(app.metric("cw_sidecar_scrape_series_refused_total", &labels).await, 2.0);
    app.shutdown().await;
}

#[tokio::test]
async fn remote_written_labels_take_the_same_rule_and_budget() {
    use cw_core::ingest::remote_write::wire::{self, Label, Sample, TimeSeries, WriteRequest};
    let app = TestApp::spawn(|c| cost_control(c, OverflowPolicy::Aggregate)).await;
    let label = |name: &str, value: &str| Label { name: name.into(), value: value.into() };
    let timeseries = PATHS
        .iter()
        .enumerate()
        .map(|(i, p)| TimeSeries {
            labels: vec![
                label("__name__", "hits"),
                label("path", p),
                label("status", "200"),
                label("session_id", &format!("s{i}")),
            ],
            samples: vec![Sample { value: 1.0, timestamp: now_ms() }],
        })
        .collect();
    let r = app
        .http
        .post(format!("{}/api/v1/write", app.base))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(wire::encode(&WriteRequest { timeseries }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    check_published(&fake.datums("Test"), "hits");
}

/// A kill -9 with the spool: what was journaled had the rules applied already, so the
/// replay publishes the rollup once per record, not a rollup of the rollup.
#[tokio::test]
async fn the_spool_replays_what_the_rules_made_without_applying_them_twice() {
    use crate::fake_cloudwatch::FakeCloudWatch;
    use crate::helpers::Sidecar;
    let dir = std::env::temp_dir().join(format!("cw-sidecar-cost-spool-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(dir.join("spool")).unwrap();
    let config = dir.join("sidecar.toml");
    let rule = "[[metrics]]\nmatch = \"hits*\"\ndrop_dimensions = [\"session_id\"]\nrollups = [[\"status\"]]\n";
    std::fs::write(&config, rule).unwrap();
    let spool = dir.join("spool");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--namespace",
        "Test",
        "--self-metrics-namespace",
        "",
        "--flush-interval",
        "1h",
        "--spool-dir",
        spool.to_str().unwrap(),
    ];
    let fake = FakeCloudWatch::start().await;
    let first = Sidecar::start(&fake, &args).await;
    assert_eq!(first.post_json(&records()).await.unwrap().status(), 202);
    first.kill().await;
    assert!(fake.datums("Test").is_empty(), "nothing published before the kill");
    let second = Sidecar::start(&fake, &args).await;
    assert!(second.terminate(Duration::from_secs(10)).await.success());
    let datums = fake.datums("Test");
    let series = by_series(&datums);
    assert_eq!(series.len(), 6, "five paths and the rollup: {:?}", series.keys());
    let rollup = series.iter().find(|((_, d), _)| d.len() == 1).expect("the rollup");
    assert_eq!(Stats::of_datums(rollup.1).count, 5.0, "one sample per record, not two");
    assert!(datums.iter().all(|d| !d.dimensions.contains_key("session_id")));
    let _ = std::fs::remove_dir_all(&dir);
}
