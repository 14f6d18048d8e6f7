//! Aggregation never builds a number CloudWatch refuses: counts and sums that would pass
//! 2^360 when merged are published over several datums that add up to what was sent.

use serde_json::json;

use crate::helpers::{Stats, TestApp, by_series, mid_window_ms};

fn stats(count: f64, sum: f64, min: f64, max: f64) -> Stats {
    Stats { count, sum, min, max }
}

#[tokio::test]
async fn merged_counts_and_sums_past_2_to_the_360_are_split_over_datums_that_add_up() {
    let app = TestApp::spawn(|_| {}).await;
    let ts = mid_window_ms();
    let at = |mut record: serde_json::Value| {
        record["timestamp"] = json!(ts);
        record
    };
    let mut records = vec![
        // Each valid; merged, the count of 5 is 4e108 and the sum 2e109.
        at(json!({"name": "W", "values": [5], "counts": [2e108]})),
        at(json!({"name": "W", "values": [5, 6], "counts": [2e108, 1]})),
        // Statistic sets whose sums add up to 4e108.
        at(json!({"name": "S", "statistics": {"sample_count": 2, "sum": 2e108, "min": 1e108, "max": 1e108}})),
        at(json!({"name": "S", "statistics": {"sample_count": 2, "sum": 2e108, "min": 1e108, "max": 1e108}})),
        // Values whose sum is 4e108.
        at(json!({"name": "V", "value": 2e108})),
        at(json!({"name": "V", "value": 2e108})),
        at(json!({"name": "V", "value": 1.5})),
        // More distinct values than one datum holds (a histogram), weighted into a sum of 2e109.
        at(json!({"name": "H", "values": (1..=200).collect::<Vec<_>>(), "counts": vec![1e105; 200]})),
    ];
    // Ordinary samples in the same windows.
    for v in 1..=10 {
        for name in ["W", "S", "V", "H"] {
            records.push(at(json!({"name": name, "value": v})));
        }
    }
    let (status, body) = app.post_json(json!(records)).await;
    assert_eq!((status, body["accepted"].as_u64()), (202, Some(records.len() as u64)), "{body}");

    let (status, counts) = app.flush().await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!((counts["rejected"].as_u64(), counts["expired"].as_u64()), (Some(0), Some(0)), "{counts}");
    assert_eq!(app.metric("cw_sidecar_datums_dropped_total", "").await, 0.0);

    let datums = app.fake.datums("Test");
    let series = by_series(&datums);
    let want = [
        ("W", stats(4e108 + 11.0, 5.0 * 4e108 + 6.0 + 55.0, 1.0, 10.0)),
        ("S", stats(14.0, 4e108 + 55.0, 1.0, 1e108)),
        ("V", stats(13.0, 4e108 + 1.5 + 55.0, 1.0, 2e108)),
        ("H", stats(2e107 + 10.0, 1e105 * 20100.0 + 55.0, 1.0, 200.0)),
    ];
    for (name, want) in want {
        let published = &series[&(name.to_string(), Default::default())];
        assert!(published.len() > 1, "{name}: split over several datums");
        Stats::of_datums(published).assert_close(&want, name);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_record_that_could_only_be_published_over_too_many_datums_is_rejected_by_its_index() {
    let app = TestApp::spawn(|_| {}).await;
    let (status, body) = app
        .post_json(json!([
            {"name": "Ok", "value": 1},
            {"name": "Huge", "values": [2e108], "counts": [2e108]},
            {"name": "Many", "values": vec![1; 100], "counts": vec![2e108; 100]},
        ]))
        .await;
    assert_eq!((status, body["accepted"].as_u64()), (202, Some(1)), "{body}");
    let rejected = body["rejected"].as_array().unwrap();
    assert_eq!(rejected.iter().map(|r| r["index"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
    let first = rejected[0]["error"].as_str().unwrap();
    assert!(first.starts_with("values, counts: ") && first.contains("value × count"), "{first}");
    let second = rejected[1]["error"].as_str().unwrap();
    assert!(second.starts_with("counts: ") && second.contains("2^366"), "{second}");
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"value\"").await, 2.0);
    assert_eq!(app.flush().await.0, 200);
    app.shutdown().await;
}
