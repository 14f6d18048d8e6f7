//! `allowed_namespaces` of the line inputs (issue 25, finding 5): StatsD and EMF cannot carry
//! a token, so what they take can be limited to namespaces; records for any other are dropped
//! before the pipeline, counted with a reason.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{metric_in, mid_window_ms};
use crate::line_app::LineApp;

fn emf(namespace: &str, metric: &str, ts: i64) -> String {
    format!(
        r#"{{"_aws":{{"Timestamp":{ts},"CloudWatchMetrics":[{{"Namespace":"{namespace}","Dimensions":[["Service"]],"Metrics":[{{"Name":"{metric}"}}]}}]}},"Service":"cart","{metric}":1}}"#
    )
}

#[tokio::test]
async fn emf_records_for_a_namespace_not_allowed_are_dropped_and_counted() {
    let app = LineApp::spawn("emf", |c| c.emf.allowed_namespaces = vec!["Shop".into(), "Jobs".into()]).await;
    let ts = mid_window_ms();
    // Over UDP and TCP: EMF documents name the namespace they write into.
    app.send_udp(&emf("Shop", "Kept", ts)).await;
    app.send_udp(&emf("AWS-Billing", "Intruder", ts)).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    let documents = format!("{}\n{}\n", emf("Jobs", "AlsoKept", ts), emf("Elsewhere", "Intruder", ts));
    tcp.write_all(documents.as_bytes()).await.unwrap();
    app.wait_received(4.0).await;
    app.wait_lines("accepted", 2.0).await;
    app.wait_lines("dropped", 2.0).await;
    let metrics = app.metrics().await;
    let dropped = "input=\"emf\",reason=\"namespace_not_allowed\"";
    assert_eq!(metric_in(&metrics, "cw_sidecar_input_records_dropped_total", dropped), 2.0, "{metrics}");
    drop(tcp);
    let fake = app.shutdown().await;
    assert_eq!(fake.datums("Shop").len(), 1);
    assert_eq!(fake.datums("Jobs").len(), 1);
    assert!(fake.datums("AWS-Billing").is_empty() && fake.datums("Elsewhere").is_empty());
}

/// StatsD lines all go to the section's namespace: when it is not allowed, every line is
/// dropped, set members included (they never reach the input's state).
#[tokio::test]
async fn statsd_lines_for_a_namespace_not_allowed_are_all_dropped() {
    let app = LineApp::spawn("statsd", |c| {
        c.statsd.namespace = Some("Other".into());
        c.statsd.allowed_namespaces = vec!["Shop".into()];
    })
    .await;
    app.send_udp("hits:1|c\nusers:alice|s\nlat:3|ms").await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    tcp.write_all(b"hits:2|c\n").await.unwrap();
    app.wait_lines("dropped", 4.0).await;
    let metrics = app.metrics().await;
    let dropped = "input=\"statsd\",reason=\"namespace_not_allowed\"";
    assert_eq!(metric_in(&metrics, "cw_sidecar_input_records_dropped_total", dropped), 4.0, "{metrics}");
    assert_eq!(app.counter("input_lines_total", "outcome=\"accepted\"").await, 0.0);
    drop(tcp);
    let fake = app.shutdown().await;
    assert!(fake.datums("Other").is_empty(), "nothing published, sets included");
}

#[tokio::test]
async fn statsd_lines_for_an_allowed_namespace_pass() {
    let app = LineApp::spawn("statsd", |c| {
        c.statsd.namespace = Some("Shop".into());
        c.statsd.allowed_namespaces = vec!["Shop".into()];
    })
    .await;
    app.send_udp("hits:1|c\nusers:alice|s").await;
    app.wait_lines("accepted", 2.0).await;
    let fake = app.shutdown().await;
    assert_eq!(fake.datums("Shop").len(), 2, "the counter and, at shutdown, the set");
}
