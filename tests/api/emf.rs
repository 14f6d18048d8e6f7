//! EMF documents over real UDP datagrams and TCP connections to the real app, compared exactly
//! with what reaches the fake CloudWatch.

use std::collections::BTreeMap;
use std::time::Duration;

use cw_sidecar::config::Config;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, mid_window_ms, now_ms};
use crate::line_app::LineApp;

/// The app with EMF on 127.0.0.1:0 (UDP and TCP).
async fn spawn(tune: impl FnOnce(&mut Config)) -> LineApp {
    LineApp::spawn("emf", tune).await
}

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// What CloudWatch holds per series: (name, dimensions) → (unit, resolution, statistics).
type Series = BTreeMap<(String, BTreeMap<String, String>), Published>;
/// Unit, storage resolution and statistics of one series.
type Published = (Option<String>, Option<i64>, Stats);

fn series(datums: &[ReceivedDatum]) -> Series {
    let mut grouped: BTreeMap<(String, BTreeMap<String, String>), Vec<&ReceivedDatum>> = BTreeMap::new();
    for d in datums {
        grouped.entry((d.name.clone(), d.dimensions.clone())).or_default().push(d);
    }
    grouped
        .into_iter()
        .map(|(key, ds)| {
            let first = ds[0];
            assert!(ds.iter().all(|d| d.unit == first.unit && d.storage_resolution == first.storage_resolution));
            let value = (first.unit.clone(), first.storage_resolution, Stats::of_datums(ds.iter().copied()));
            (key, value)
        })
        .collect()
}

fn stats(count: f64, sum: f64, min: f64, max: f64) -> Stats {
    Stats { count, sum, min, max }
}

#[tokio::test]
async fn udp_and_tcp_documents_reach_cloudwatch_exactly() {
    let app = spawn(|c| c.default_dimensions = [("Host".to_string(), "h1".to_string())].into()).await;
    let ts = mid_window_ms();
    // UDP: one document per datagram; one metric under two dimension sets, an array of values.
    app.send_udp(&format!(
        r#"{{"_aws":{{"Timestamp":{ts},"CloudWatchMetrics":[{{"Namespace":"Shop","Dimensions":[["Service"],["Service","Op"]],"Metrics":[{{"Name":"Latency","Unit":"Milliseconds"}}]}}]}},"Service":"cart","Op":"add","Latency":[10,20,30],"RequestId":"r-1"}}"#
    ))
    .await;
    app.wait_lines("accepted", 2.0).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    let documents = [
        // Value objects, a high-resolution metric, no timestamp (the time it arrives).
        r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["Service"]],"Metrics":[{"Name":"Orders","Unit":"Count"},{"Name":"Sizes","Unit":"Bytes"},{"Name":"Hot","StorageResolution":1}]}]},"Service":"cart","Orders":{"Max":5,"Min":1,"Count":3,"Sum":9},"Sizes":{"Values":[100,200],"Counts":[3,1]},"Hot":7}"#.to_string(),
        // Not EMF: a plain structured log line, ignored.
        r#"{"level":"info","msg":"hello","Latency":1}"#.to_string(),
        // One bad metric (no member, a unit CloudWatch does not know) and a dropped dimension
        // set: the rest publishes.
        format!(
            r#"{{"_aws":{{"Timestamp":{ts},"CloudWatchMetrics":[{{"Namespace":"Shop","Dimensions":[["Nope"],["Service"]],"Metrics":[{{"Name":"Missing"}},{{"Name":"Weird","Unit":"Parsecs"}},{{"Name":"Fine"}}]}}]}},"Service":"cart","Weird":1,"Fine":2}}"#
        ),
        // Rejected whole: not JSON.
        "{\"_aws\":".to_string(),
    ];
    // Sent in pieces: lines are reassembled across reads.
    let text: String = documents.iter().map(|d| format!("{d}\n")).collect();
    let (a, b) = text.split_at(text.len() / 2);
    tcp.write_all(a.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    tcp.write_all(b.as_bytes()).await.unwrap();
    app.wait_lines("received", 5.0).await;
    app.wait_lines("accepted", 6.0).await;
    let sent_at = now_ms();
    assert_eq!(app.counter("input_lines_total", "outcome=\"ignored\"").await, 1.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 1.0);
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"invalid_json\"").await, 1.0);
    assert_eq!(app.counter("input_warnings_total", "reason=\"metric_missing\"").await, 1.0);
    assert_eq!(app.counter("input_warnings_total", "reason=\"unit\"").await, 1.0);
    assert_eq!(app.counter("input_warnings_total", "reason=\"dimension_missing\"").await, 1.0);
    assert_eq!(app.counter("udp_dropped_total", "reason=\"buffer_full\"").await, 0.0);
    drop(tcp);
    app.flush().await;
    let fake = app.shutdown().await;
    let datums = fake.datums("Shop");
    let cart = dims(&[("Host", "h1"), ("Service", "cart")]);
    let ms = Some("Milliseconds".to_string());
    let expected: Series = [
        (("Latency", cart.clone()), (ms.clone(), Some(60), stats(3.0, 60.0, 10.0, 30.0))),
        (
            ("Latency", dims(&[("Host", "h1"), ("Op", "add"), ("Service", "cart")])),
            (ms, Some(60), stats(3.0, 60.0, 10.0, 30.0)),
        ),
        (("Orders", cart.clone()), (Some("Count".into()), Some(60), stats(3.0, 9.0, 1.0, 5.0))),
        (("Sizes", cart.clone()), (Some("Bytes".into()), Some(60), stats(4.0, 500.0, 100.0, 200.0))),
        (("Hot", cart.clone()), (Some("None".into()), Some(1), stats(1.0, 7.0, 7.0, 7.0))),
        (("Fine", cart.clone()), (Some("None".into()), Some(60), stats(1.0, 2.0, 2.0, 2.0))),
    ]
    .into_iter()
    .map(|((name, d), v)| ((name.to_string(), d), v))
    .collect();
    assert_eq!(series(&datums), expected, "{datums:#?}");
    // With `_aws.Timestamp` in its window; without, in the window it arrived in.
    for d in &datums {
        match d.name.as_str() {
            "Latency" | "Fine" => assert_eq!(d.timestamp_ms, ts - ts % 60_000, "{d:?}"),
            _ => assert!((sent_at - 70_000..=sent_at).contains(&d.timestamp_ms), "{d:?}"),
        }
    }
    assert!(fake.datums("CWSidecar").iter().all(|d| d.name != "Latency"), "nothing else published");
}

#[tokio::test]
async fn a_directive_without_namespace_takes_the_configured_one() {
    let app = spawn(|c| c.emf.namespace = Some("Fallback".into())).await;
    app.send_udp(r#"{"_aws":{"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1}"#).await;
    app.wait_lines("accepted", 1.0).await;
    let fake = app.shutdown().await;
    let datums = fake.datums("Fallback");
    assert_eq!(datums.len(), 1, "{datums:?}");
    assert_eq!((datums[0].name.as_str(), datums[0].values.as_slice()), ("M", [1.0].as_slice()));
}

#[tokio::test]
async fn tcp_pushes_back_while_the_buffer_is_full_and_loses_nothing() {
    // One series-window fits: the second document waits until a flush makes room.
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    let doc = |name: &str| document(&[name]);
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    tcp.write_all(format!("{}\n", doc("first")).as_bytes()).await.unwrap();
    app.wait_lines("accepted", 1.0).await;
    tcp.write_all(format!("{}\n", doc("second")).as_bytes()).await.unwrap();
    app.wait_lines("received", 2.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"accepted\"").await, 1.0, "second waits");
    app.flush().await;
    app.wait_lines("accepted", 2.0).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"dropped\"").await, 0.0);
    drop(tcp);
    let fake = app.shutdown().await;
    let mut names: Vec<String> = fake.datums("N").into_iter().map(|d| d.name).collect();
    names.sort();
    assert_eq!(names, vec!["first", "second"]);
}

fn document(names: &[&str]) -> String {
    let metrics: Vec<String> = names.iter().map(|n| format!(r#"{{"Name":"{n}"}}"#)).collect();
    let values: Vec<String> = names.iter().map(|n| format!(r#""{n}":1"#)).collect();
    format!(
        r#"{{"_aws":{{"CloudWatchMetrics":[{{"Namespace":"N","Metrics":[{}]}}]}},{}}}"#,
        metrics.join(","),
        values.join(",")
    )
}

#[tokio::test]
async fn udp_counts_the_datums_the_full_buffer_refuses() {
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    app.send_udp(&document(&["first"])).await;
    app.wait_lines("accepted", 1.0).await;
    app.send_udp(&document(&["second", "third"])).await;
    app.wait_lines("dropped", 2.0).await;
    assert_eq!(app.counter("udp_dropped_total", "reason=\"too_large\"").await, 2.0);
    app.send_udp(&document(&["fourth"])).await;
    app.wait_lines("dropped", 3.0).await;
    assert_eq!(app.counter("udp_dropped_total", "reason=\"buffer_full\"").await, 1.0);
    let fake = app.shutdown().await;
    assert_eq!(fake.datums("N").len(), 1);
}

#[tokio::test]
async fn an_overlong_tcp_document_is_skipped_and_the_connection_stays_open() {
    let app = spawn(|_| {}).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    let long = format!(r#"{{"pad":"{}"}}"#, "x".repeat(70 * 1024));
    let text = format!("{}\n{long}\n{}\n", document(&["before"]), document(&["after"]));
    tcp.write_all(text.as_bytes()).await.unwrap();
    app.wait_lines("received", 3.0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Still open; the last document needs no newline before the end of the stream.
    tcp.write_all(document(&["later"]).as_bytes()).await.unwrap();
    tcp.shutdown().await.unwrap();
    app.wait_lines("accepted", 3.0).await;
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"too_long\"").await, 1.0);
    let fake = app.shutdown().await;
    let mut names: Vec<String> = fake.datums("N").into_iter().map(|d| d.name).collect();
    names.sort();
    assert_eq!(names, vec!["after", "before", "later"]);
}

/// aws-embedded-metrics, AWS's own Python client, in its `Agent` environment over TCP. It
/// needs the client from PyPI (`scripts/clients.sh` installs it into `tests/clients/.venv`),
/// so it is ignored by a plain `cargo test`; `scripts/test.sh` runs it, and without the
/// client it fails.
#[tokio::test]
#[ignore = "needs aws-embedded-metrics from PyPI (scripts/clients.sh); scripts/test.sh runs it"]
async fn aws_embedded_metrics_from_pypi_over_tcp() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let python = dir.join(".venv/bin/python");
    assert!(python.exists(), "no {}: run scripts/clients.sh", python.display());
    let app = spawn(|_| {}).await;
    let out = tokio::process::Command::new(&python)
        .arg("emf_client.py")
        .env("AWS_EMF_AGENT_ENDPOINT", format!("tcp://127.0.0.1:{}", app.tcp.port()))
        .env("AWS_EMF_ENVIRONMENT", "Agent")
        .env("AWS_EMF_SERVICE_NAME", "shop")
        .env("AWS_EMF_SERVICE_TYPE", "test")
        .env("AWS_EMF_LOG_GROUP_NAME", "shop-logs")
        .current_dir(&dir)
        .output()
        .await
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Two documents: Latency and Hot, then Orders.
    app.wait_lines("received", 2.0).await;
    app.wait_lines("accepted", 3.0).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 0.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"ignored\"").await, 0.0);
    let fake = app.shutdown().await;
    let datums = fake.datums("EmfClient");
    let s = series(&datums);
    let with = |name: &str| -> Vec<(&BTreeMap<String, String>, &Published)> {
        s.iter().filter(|((n, _), _)| n == name).map(|((_, d), v)| (d, v)).collect()
    };
    let latency = with("Latency");
    assert_eq!(latency.len(), 1, "{datums:#?}");
    let (dimensions, (unit, resolution, stats)) = latency[0];
    assert_eq!(dimensions.get("Service").map(String::as_str), Some("cart"), "{dimensions:?}");
    assert_eq!(dimensions.get("ServiceName").map(String::as_str), Some("shop"), "{dimensions:?}");
    assert_eq!((unit.as_deref(), *resolution), (Some("Milliseconds"), Some(60)));
    assert_eq!(*stats, Stats { count: 3.0, sum: 60.0, min: 12.0, max: 30.0 });
    let hot = with("Hot");
    assert_eq!(hot.len(), 1, "{datums:#?}");
    assert_eq!((hot[0].1.0.as_deref(), hot[0].1.1), (Some("Count"), Some(1)));
    assert_eq!(hot[0].1.2.sum, 5.0);
    // A second flush of the client's logger: two documents in all.
    let orders = with("Orders");
    assert_eq!(orders.len(), 1, "{datums:#?}");
    assert_eq!(orders[0].1.2.sum, 2.0);
}
