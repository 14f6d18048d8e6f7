//! Issue 25, finding 4: one EMF line of hundreds of dimension sets × 100 metrics made tens of
//! thousands of series; two such lines filled the buffer and every input got 503.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::line_app::LineApp;

/// A document of one directive with `sets` dimension sets (each naming one member) and
/// `metrics` metrics, about 15 KB for the figures.
fn wide(sets: usize, metrics: usize) -> String {
    let set_list = (0..sets).map(|i| format!("[\"D{}\"]", i % 500)).collect::<Vec<_>>().join(",");
    let metric_list = (0..metrics).map(|i| format!("{{\"Name\":\"M{i}\"}}")).collect::<Vec<_>>().join(",");
    let members = (0..sets.min(500)).map(|i| format!("\"D{i}\":\"v\"")).collect::<Vec<_>>().join(",");
    let values = (0..metrics).map(|i| format!("\"M{i}\":1")).collect::<Vec<_>>().join(",");
    format!(
        "{{\"_aws\":{{\"CloudWatchMetrics\":[{{\"Namespace\":\"Wide\",\"Dimensions\":[{set_list}],\
         \"Metrics\":[{metric_list}]}}]}},{members},{values}}}"
    )
}

#[tokio::test]
async fn lines_of_hundreds_of_dimension_sets_are_rejected_and_counted_and_the_buffer_stays_free() {
    let app = LineApp::spawn("emf", |c| c.max_buffered_datums = 100_000).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    for sets in [435, 829, 435, 829] {
        tcp.write_all(format!("{}\n", wide(sets, 100)).as_bytes()).await.unwrap();
    }
    // Within the bounds: 30 sets × 100 metrics, 3,000 datums.
    tcp.write_all(format!("{}\n", wide(30, 100)).as_bytes()).await.unwrap();
    app.wait_lines("received", 5.0).await;
    app.wait_lines("accepted", 3000.0).await;
    let rejected = app.counter("input_lines_rejected_total", "reason=\"too_many_dimension_sets\"").await;
    assert_eq!(rejected, 4.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 4.0);
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"too_many_datums\"").await, 0.0);
    // The buffer holds the 3,000, not 250,000: the HTTP API still takes records.
    let text = app.metrics().await;
    assert_eq!(crate::helpers::metric_in(&text, "cw_sidecar_buffered_datums", ""), 3000.0, "{text}");
    let body = serde_json::json!([{"name": "After", "value": 1, "namespace": "Wide"}]);
    let (status, _) = app.app.post_json(body).await;
    assert_eq!(status, 202);
    drop(tcp);
    let fake = app.shutdown().await;
    assert_eq!(fake.datums("Wide").len(), 3001);
}
