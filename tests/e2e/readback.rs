//! Thousands of records over several series, dimensions, units and both resolutions, read
//! back with GetMetricStatistics: per series and minute, SampleCount, Sum, Minimum and
//! Maximum equal what was sent.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use serde_json::json;

use crate::support::{Sidecar, cloudwatch, localstack, unique};

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn add(&mut self, v: f64, c: f64) {
        if self.count == 0.0 {
            (self.min, self.max) = (v, v);
        }
        self.count += c;
        self.sum += v * c;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

type SeriesKey = (&'static str, &'static str, Vec<(&'static str, String)>);

#[tokio::test]
#[ignore = "needs LocalStack (scripts/localstack.sh start); scripts/test.sh runs it"]
async fn what_is_posted_is_what_cloudwatch_reports() {
    let endpoint = localstack().await;
    let namespace = format!("E2E/Readback/{}", unique());
    // Delivery is at least once: an attempt that times out after LocalStack stored it is sent
    // again and counted twice. A loaded machine can make LocalStack take seconds, so give each
    // attempt ample time: this test checks exact counts, not timeouts.
    let sidecar = Sidecar::start(
        &endpoint,
        &[
            "--namespace",
            &namespace,
            "--self-metrics-namespace",
            "",
            "--publish-timeout",
            "60s",
            "--shutdown-timeout",
            "120s",
        ],
    )
    .await;

    let now = cw_sidecar::clock::system_now_ms();
    let first_minute = now - now % 60_000 - 5 * 60_000;
    let mut rng = fastrand::Rng::with_seed(11);
    let mut expected: BTreeMap<(SeriesKey, i64), Stats> = BTreeMap::new();
    let mut sent = 0;
    for round in 0..20 {
        let mut records = Vec::new();
        for _ in 0..200 {
            let minute = first_minute + 60_000 * rng.i64(0..3);
            let ts = minute + rng.i64(0..60_000);
            let service = ["cart", "search", "auth"][rng.usize(0..3)].to_string();
            match rng.u8(0..4) {
                0 => {
                    let v = (rng.f64() * 500.0 * 100.0).round() / 100.0;
                    records.push(json!({"name": "Latency", "unit": "Milliseconds", "value": v, "timestamp": ts, "dimensions": {"Service": service}}));
                    expected
                        .entry((("Latency", "Milliseconds", vec![("Service", service)]), minute))
                        .or_default()
                        .add(v, 1.0);
                }
                1 => {
                    let route = format!("/r{}", rng.u8(0..3));
                    let (values, counts) = (vec![0.0, 1.0], vec![rng.u32(1..20) as f64, rng.u32(1..5) as f64]);
                    records.push(json!({"name": "Requests", "unit": "Count", "values": values, "counts": counts, "storage_resolution": 1,
                                        "timestamp": ts, "dimensions": {"Service": service, "Route": route}}));
                    let e = expected
                        .entry((("Requests", "Count", vec![("Route", route), ("Service", service)]), minute))
                        .or_default();
                    values.iter().zip(&counts).for_each(|(v, c)| e.add(*v, *c));
                }
                2 => {
                    let v = rng.u32(100..100_000) as f64;
                    records.push(json!({"name": "PayloadSize", "unit": "Bytes", "values": [v, v * 2.0], "timestamp": ts, "dimensions": {"Service": service}}));
                    let e = expected.entry((("PayloadSize", "Bytes", vec![("Service", service)]), minute)).or_default();
                    e.add(v, 1.0);
                    e.add(v * 2.0, 1.0);
                }
                _ => {
                    let v = rng.u32(0..100) as f64;
                    records.push(json!({"name": "QueueDepth", "unit": "Count", "value": v, "storage_resolution": 1, "timestamp": ts}));
                    expected.entry((("QueueDepth", "Count", vec![]), minute)).or_default().add(v, 1.0);
                }
            }
        }
        sent += records.len();
        let answer = sidecar.post(json!(records)).await;
        assert_eq!(answer["accepted"], 200, "round {round}: {answer}");
    }
    assert_eq!(sent, 4000);
    let (status, counts) = sidecar.flush().await;
    assert_eq!(status, 200, "{counts}");
    sidecar.stop();

    let cw = cloudwatch(&endpoint);
    let mut checked = 0;
    for (((name, unit, dims), minute), want) in &expected {
        let got = cw
            .get_metric_statistics()
            .namespace(&namespace)
            .metric_name(*name)
            .set_dimensions(Some(dims.iter().map(|(k, v)| Dimension::builder().name(*k).value(v).build()).collect()))
            .start_time(DateTime::from_millis(*minute))
            .end_time(DateTime::from_millis(minute + 60_000))
            .period(60)
            .statistics(Statistic::SampleCount)
            .statistics(Statistic::Sum)
            .statistics(Statistic::Minimum)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .unwrap();
        let points = got.datapoints();
        assert_eq!(points.len(), 1, "{name} {dims:?} at {minute}: {points:?}");
        let p = &points[0];
        let what = format!("{name} ({unit}) {dims:?} minute {minute}");
        assert_eq!(p.sample_count(), Some(want.count), "{what}");
        let sum = p.sum().unwrap();
        assert!((sum - want.sum).abs() <= 1e-9 * want.sum.abs().max(1.0), "{what}: sum {sum} vs {}", want.sum);
        assert_eq!(p.minimum(), Some(want.min), "{what}");
        assert_eq!(p.maximum(), Some(want.max), "{what}");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} series-minutes checked");
}
