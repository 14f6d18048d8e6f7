//! Every input goes through one pipeline: a test-only input, with no HTTP at all, reaches
//! CloudWatch with the same validation, defaults and counters as `POST /v1/metrics`.

use std::borrow::Cow;

use cw_core::domain::error::reject;
use cw_core::domain::payload::GivenValues;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Admission, Input, Refusal, Rejection};
use cw_core::reasons::RejectReason;

use crate::helpers::{TestApp, mid_window_ms};

const TEST_INPUT: Input = Input { name: "test", admission: Admission::Bounded, counted: true };

fn line(name: &'static str, value: f64, source: &'static str) -> Candidate<'static> {
    Candidate {
        name: Some(Cow::Borrowed(name)),
        unit: Some(Cow::Borrowed("Count")),
        dimensions: [(Cow::Borrowed("Source"), Cow::Borrowed(source))].into_iter().collect(),
        timestamp: Some(cw_core::domain::timestamp::GivenTime::EpochMillis(mid_window_ms())),
        values: GivenValues { value: Some(value), ..GivenValues::default() },
        ..Candidate::default()
    }
}

#[tokio::test]
async fn a_second_input_reaches_cloudwatch_through_the_pipeline_without_http() {
    let app = TestApp::spawn(|c| c.default_dimensions = [("Host".to_string(), "h1".to_string())].into()).await;
    let items = vec![
        Ok(line("Lines", 3.0, "test")),
        Ok(Candidate { name: None, ..line("Lines", 1.0, "test") }),
        Err(reject(RejectReason::Malformed, "not a line")),
        Ok(line("Lines", 4.0, "test")),
        Ok(Candidate { unit: Some(Cow::Borrowed("ms")), ..line("Lines", 1.0, "test") }),
    ];
    let envelope = [(Cow::Borrowed("Stream"), Cow::Borrowed("s1"))];
    let context = Context { namespace: Some("FromTest"), dimensions: &envelope };
    let answer = app.pipeline.submit(TEST_INPUT, &context, items).unwrap();
    assert_eq!(answer.accepted, 2);
    let indexes: Vec<usize> = answer.rejected.iter().map(|r: &Rejection| r.index).collect();
    assert_eq!(indexes, vec![1, 2, 4]);
    assert_eq!(answer.rejected[0].error, "name: required");
    assert_eq!(answer.rejected[1].error, "not a line");
    assert!(answer.rejected[2].error.starts_with("unit: `ms` is not a CloudWatch standard unit"));
    // The same counters as HTTP's, by the same reasons.
    assert_eq!(app.metric("cw_sidecar_records_received_total", "").await, 5.0);
    assert_eq!(app.metric("cw_sidecar_records_accepted_total", "").await, 2.0);
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"malformed\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"name\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"unit\"").await, 1.0);
    // Shutdown publishes it: no HTTP request carried a record.
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let datums = fake.datums("FromTest");
    assert_eq!(datums.len(), 1, "one datum for the series-window");
    let d = &datums[0];
    assert_eq!(d.name, "Lines");
    assert_eq!(d.unit.as_deref(), Some("Count"));
    let dims: Vec<(&str, &str)> = d.dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(dims, vec![("Host", "h1"), ("Source", "test"), ("Stream", "s1")]);
    assert_eq!(d.values.iter().zip(&d.counts).map(|(v, c)| v * c).sum::<f64>(), 7.0);
}

#[tokio::test]
async fn the_buffer_bound_refuses_any_input_the_same_way() {
    let app = TestApp::spawn(|c| c.max_buffered_datums = 2).await;
    let series = |n: usize| (0..n).map(|i| Ok(line("S", i as f64, ["a", "b", "c"][i]))).collect::<Vec<_>>();
    let refusal = app.pipeline.submit(TEST_INPUT, &Context::default(), series(3)).unwrap_err();
    assert_eq!(refusal, Refusal::NeverFits { windows: 3, max: 2 });
    assert_eq!(app.pipeline.submit(TEST_INPUT, &Context::default(), series(2)).unwrap().accepted, 2);
    let refusal = app.pipeline.submit(TEST_INPUT, &Context::default(), series(1)).unwrap_err();
    assert!(matches!(refusal, Refusal::BufferFull { .. }), "{refusal:?}");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"buffer_full\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"too_large\"").await, 1.0);
    app.shutdown().await;
}

/// Each input the configuration turns on is one source of the app, found by its name and
/// kind of address; those it does not turn on are not there.
#[tokio::test]
async fn every_input_turned_on_is_listed_with_its_addresses_and_no_other() {
    let local = "127.0.0.1:0".parse().ok();
    let app = TestApp::spawn(|c| {
        (c.statsd.udp_address, c.statsd.tcp_address) = (local, local);
        c.emf.tcp_address = local;
        c.otlp.listen = local;
    })
    .await;
    let mut kinds: Vec<(&str, &str)> = app.addresses.iter().map(|(name, kind, _)| (*name, *kind)).collect();
    kinds.sort();
    assert_eq!(kinds, vec![("emf", "tcp"), ("otlp", "http"), ("statsd", "tcp"), ("statsd", "udp")]);
    for (name, kind, addr) in &app.addresses {
        assert_ne!(addr.port(), 0, "{name} {kind} is bound");
        assert_eq!(app.addr(name, kind), Some(*addr));
    }
    assert_eq!(app.addr("emf", "udp"), None);
    // Each listens: a StatsD line over TCP arrives like any record.
    let mut tcp = tokio::net::TcpStream::connect(app.addr("statsd", "tcp").unwrap()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"listed:1|c\n").await.unwrap();
    drop(tcp);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !app.get("/metrics").await.1.contains("cw_sidecar_input_lines_total{input=\"statsd\",outcome=\"accepted\"} 1")
    {
        assert!(std::time::Instant::now() < deadline, "the line was not accepted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.shutdown().await;
}
