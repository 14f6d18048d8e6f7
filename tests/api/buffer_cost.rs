//! `max_buffered_datums` bounds what the buffer really holds: a window of many distinct
//! values costs the datums it will publish, not one slot.

use serde_json::json;

use crate::helpers::{TestApp, mid_window_ms};

/// Distinct values this many, each in a histogram bucket of its own.
const DISTINCT: i32 = 50_000;
/// What one such window costs: its 50,000 entries make ceil(50,000 / 150) datums.
const DATUMS_PER_WINDOW: f64 = 334.0;

/// One record of `series` with [`DISTINCT`] values spread over the log scale, 1e-108 to 3e99
/// (consecutive values 0.96% apart: wider than a histogram bucket; their sum is far from
/// 2^360, so the record needs no splitting).
fn wide_record(series: &str, ts: i64) -> serde_json::Value {
    let values: Vec<f64> = (0..DISTINCT).map(|i| 1e-108 * 1.0096f64.powi(i)).collect();
    json!({"name": "Wide", "dimensions": {"Series": series}, "values": values, "timestamp": ts})
}

#[tokio::test]
async fn a_window_of_many_distinct_values_costs_the_datums_it_will_publish() {
    let app = TestApp::spawn(|c| c.max_buffered_datums = 700).await;
    let ts = mid_window_ms();
    let buffered = async || app.metric("cw_sidecar_buffered_datums", "").await;

    for (i, want) in [(0, DATUMS_PER_WINDOW), (1, 2.0 * DATUMS_PER_WINDOW)] {
        let (status, body) = app.post_json(json!([wide_record(&format!("s{i}"), ts)])).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(buffered().await, want);
    }
    // A third would pass the bound: refused, with Retry-After, and nothing of it kept.
    let mut refused = 0;
    for i in 2..20 {
        let (status, body, headers) =
            app.post("application/json", json!([wide_record(&format!("s{i}"), ts)]).to_string()).await;
        assert_eq!(status, 503, "request {i}: {body}");
        assert!(headers.get("retry-after").is_some());
        assert!(body["error"].as_str().unwrap().contains("max_buffered_datums 700"), "{body}");
        refused += 1;
    }
    assert_eq!(buffered().await, 2.0 * DATUMS_PER_WINDOW);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"buffer_full\"").await, refused as f64);

    // Three such windows in one request could never fit, even into an empty buffer: 413.
    let three: Vec<_> = (0..3).map(|i| wide_record(&format!("t{i}"), ts)).collect();
    let (status, body, headers) = app.post("application/json", json!(three).to_string()).await;
    assert_eq!(status, 413, "{body}");
    assert!(headers.get("retry-after").is_none());
    assert!(body["error"].as_str().unwrap().contains("3 series-windows"), "{body}");

    // Publishing frees the room: the datums are exactly those the budget counted.
    let (status, counts) = app.flush().await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(counts["published"].as_f64(), Some(2.0 * DATUMS_PER_WINDOW), "{counts}");
    assert_eq!(app.fake.datums("Test").len() as f64, 2.0 * DATUMS_PER_WINDOW);
    assert_eq!(buffered().await, 0.0);
    assert_eq!(app.post_json(json!([wide_record("again", ts)])).await.0, 202);
    app.shutdown().await;
}
