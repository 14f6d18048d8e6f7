//! The OpenTelemetry SDKs for Python (OTLP/HTTP protobuf, on the OTLP listener) and Node
//! (OTLP JSON, at the API's `/v1/metrics`), with cumulative and delta temporality, against
//! the real app. Each client prints what it recorded per round (one export per round); for
//! every series and minute, CloudWatch's SampleCount and Sum must equal what that gives:
//! - `requests` (counter): one sample per round, its increase (cumulative: the stream started
//!   after the sidecar, so its first point counts from zero; delta: the point itself);
//! - `inflight` (up-down counter, cumulative under either preference, as the SDKs do): a
//!   gauge, one sample per round of the running total;
//! - `latency` (histogram, the SDK's default buckets): every recorded value; percentiles
//!   within their bucket; Minimum and Maximum exact with delta temporality;
//! - `queue_depth` (gauge): one sample per round, the value set.
//!
//! They need the clients (`scripts/clients.sh`), so a plain `cargo test` skips them;
//! `scripts/test.sh` runs them, and without the clients they fail.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, TestApp, nearest_rank, percentile_of_datums};

pub(crate) const NAMESPACE: &str = "Otel";
pub(crate) const ROUNDS: usize = 3;
/// The SDKs' default explicit bounds (the same in Python and Node).
const BOUNDS: [f64; 15] =
    [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];

pub(crate) fn clients() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs a client with OTEL_* variables; returns its rounds.
pub(crate) async fn run(program: PathBuf, script: &str, env: &[(&str, String)]) -> Vec<Value> {
    run_logged(program, script, env).await.0
}

/// Runs a client with OTEL_* variables; returns its rounds and what it logged (stderr).
pub(crate) async fn run_logged(program: PathBuf, script: &str, env: &[(&str, String)]) -> (Vec<Value>, String) {
    let needed = if script.ends_with(".js") {
        clients().join("node_modules/@opentelemetry/sdk-metrics")
    } else {
        program.clone()
    };
    assert!(needed.exists(), "no {}: run scripts/clients.sh", needed.display());
    let out = tokio::process::Command::new(&program)
        .args([script, &ROUNDS.to_string()])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(clients())
        .output()
        .await
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let rounds: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rounds.len(), ROUNDS, "{stdout}");
    (rounds, String::from_utf8_lossy(&out.stderr).into_owned())
}

type Key = (String, String, i64);

/// What each (metric, route, minute) must show, from the client's rounds: the samples.
fn expected(rounds: &[Value]) -> BTreeMap<Key, Vec<f64>> {
    let mut out: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for round in rounds {
        let minute = round["before_ms"].as_i64().unwrap() / 60_000;
        assert_eq!(minute, round["after_ms"].as_i64().unwrap() / 60_000, "the client keeps a round in a minute");
        for (metric, series) in round["recorded"].as_object().unwrap() {
            for (route, values) in series.as_object().unwrap() {
                let values: Vec<f64> = values.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                let samples = match metric.as_str() {
                    "inflight" => {
                        let total = totals.entry(route.clone()).or_default();
                        *total += values[0];
                        vec![*total]
                    }
                    "requests" | "queue_depth" => vec![values[0]],
                    _ => values,
                };
                out.entry((metric.clone(), route.clone(), minute)).or_default().extend(samples);
            }
        }
    }
    out
}

fn published(datums: &[ReceivedDatum], service: &str) -> BTreeMap<Key, Vec<ReceivedDatum>> {
    let mut out: BTreeMap<Key, Vec<ReceivedDatum>> = BTreeMap::new();
    for d in datums {
        assert_eq!(d.dimensions.get("service.name").map(String::as_str), Some(service), "{d:?}");
        assert_eq!(d.dimensions.len(), 2, "route and service.name only: {d:?}");
        let route = d.dimensions["route"].clone();
        out.entry((d.name.clone(), route, d.timestamp_ms / 60_000)).or_default().push(d.clone());
    }
    out
}

/// The bucket (lo, hi] of the default bounds that holds `v`.
fn bucket(v: f64) -> (f64, f64) {
    let i = BOUNDS.iter().position(|b| v <= *b).unwrap_or(BOUNDS.len());
    (if i == 0 { f64::NEG_INFINITY } else { BOUNDS[i - 1] }, BOUNDS.get(i).copied().unwrap_or(f64::INFINITY))
}

/// How the client's histograms are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Histograms {
    /// The SDK's default explicit bounds ([`BOUNDS`]).
    Explicit,
    /// Base-2 exponential buckets, at most 160 (the SDKs' default): for this test's values
    /// (0.5 to 900.5, 11 octaves) the SDK's scale is 3 or finer, so a bucket spans at most a
    /// factor of 2^(1/8).
    Exponential,
}

pub(crate) fn compare(rounds: &[Value], datums: &[ReceivedDatum], service: &str, delta: bool, histograms: Histograms) {
    let want = expected(rounds);
    let got = published(datums, service);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "series and minutes");
    for (key, samples) in &want {
        let datums = &got[key];
        let s = Stats::of_datums(datums);
        let raw = Stats::of_samples(samples);
        let what = format!("{key:?} ({})", if delta { "delta" } else { "cumulative" });
        assert_eq!(s.count, raw.count, "{what}: SampleCount");
        assert!((s.sum - raw.sum).abs() <= 1e-9 * raw.sum.abs().max(1.0), "{what}: Sum {} vs {}", s.sum, raw.sum);
        let unit = match key.0.as_str() {
            "requests" | "inflight" => "Count",
            "latency" => "Milliseconds",
            _ => "None",
        };
        assert!(datums.iter().all(|d| d.unit.as_deref() == Some(unit)), "{what}: unit {datums:?}");
        if key.0 == "latency" {
            for p in [50.0, 90.0, 99.0] {
                let raw = nearest_rank(&mut samples.clone(), p);
                let (lo, hi) = match histograms {
                    Histograms::Explicit => bucket(raw),
                    Histograms::Exponential => {
                        let base = 2f64.powf(1.0 / 8.0);
                        (raw / base, raw * base)
                    }
                };
                let at = percentile_of_datums(datums, p);
                assert!(lo <= at && at <= hi, "{what}: p{p} {at} outside ({lo}, {hi}] ({histograms:?})");
            }
            if delta {
                assert_eq!((s.min, s.max), (raw.min, raw.max), "{what}: delta points carry min and max");
            }
        } else {
            assert_eq!((s.min, s.max), (raw.min, raw.max), "{what}: samples");
        }
    }
}

async fn python(temporality: &str) {
    let app = TestApp::spawn(|c| {
        c.otlp.listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
    })
    .await;
    // The SDK's defaults but for where it sends: OTEL_EXPORTER_OTLP_ENDPOINT plus /v1/metrics.
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{}", app.otlp.unwrap())),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf".into()),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", temporality.into()),
    ];
    let rounds = run(clients().join(".venv/bin/python"), "otel_client.py", &env).await;
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"rejected\"").await, 0.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    compare(&rounds, &fake.datums(NAMESPACE), "py-shop", temporality == "delta", Histograms::Explicit);
}

async fn node(temporality: &str) {
    let app = TestApp::spawn(|c| c.otlp.namespace = Some(NAMESPACE.into())).await;
    // At the API's own /v1/metrics: OTLP JSON told apart from our records.
    let env = [
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", format!("{}/v1/metrics", app.base)),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json".into()),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", temporality.into()),
    ];
    let rounds = run(PathBuf::from("node"), "otel_client.js", &env).await;
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"rejected\"").await, 0.0);
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "").await, 0.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    compare(&rounds, &fake.datums(NAMESPACE), "node-shop", temporality == "delta", Histograms::Explicit);
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_sdk_protobuf_cumulative() {
    python("cumulative").await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_sdk_protobuf_delta() {
    python("delta").await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn node_sdk_json_cumulative() {
    node("cumulative").await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn node_sdk_json_delta() {
    node("delta").await;
}
