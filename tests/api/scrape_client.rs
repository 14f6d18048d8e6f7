//! The scrape input against a real service instrumented with `prometheus-client` from PyPI
//! (`tests/clients/prometheus_service.py`): for each series and minute, what reaches the fake
//! CloudWatch equals what the service itself counted.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use cw_sidecar::config::{Config, TargetConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, TestApp, nearest_rank, now_ms, percentile_of_datums, until};

/// prometheus-client's default histogram buckets.
const DEFAULT_BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
const STEPS: usize = 8;
const INTERVAL_S: u64 = 15;

/// The service, driven over stdin and stdout.
pub struct Service {
    pub port: u16,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl Service {
    pub async fn start(args: &[&str]) -> Service {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
        let python = dir.join(".venv/bin/python");
        assert!(python.exists(), "no {}: run scripts/clients.sh", python.display());
        let mut child = tokio::process::Command::new(python)
            .arg("prometheus_service.py")
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python runs");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value = serde_json::from_str(&stdout.next_line().await.unwrap().expect("the port")).unwrap();
        Service { port: first["port"].as_u64().unwrap() as u16, stdin, stdout, _child: child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }

    /// Asks the service to exit (it answers nothing).
    pub async fn quit(&mut self) {
        let _ = self.stdin.write_all(b"quit\n").await;
        let _ = self.stdin.flush().await;
    }

    pub async fn command(&mut self, command: &str) -> Value {
        self.stdin.write_all(format!("{command}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line()).await.unwrap().unwrap();
        serde_json::from_str(&line.expect("an answer")).unwrap()
    }
}

/// What the service counted, per (series, minute): counter sums, observations, gauge values.
#[derive(Default)]
struct Expected {
    sums: BTreeMap<(String, String, i64), f64>,
    observations: BTreeMap<(String, String, i64), Vec<f64>>,
    gauges: BTreeMap<(String, i64), Vec<f64>>,
}

/// `k=v,k=v` of a datum's dimensions, sorted.
fn dims(d: &ReceivedDatum) -> String {
    d.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

fn bucket_of(v: f64) -> usize {
    DEFAULT_BUCKETS.iter().position(|b| v <= *b).unwrap_or(DEFAULT_BUCKETS.len())
}

/// Runs the service's seeded workload under a sidecar configured by `tune`: a first scrape
/// (the baseline), then `STEPS` steps each followed by a scrape, 15 s apart on the clock.
async fn run(tune: impl FnOnce(&mut Config)) -> (TestApp, Expected, Vec<ReceivedDatum>, BTreeSet<String>) {
    let mut service = Service::start(&["42"]).await;
    let url = service.url();
    let now = now_ms();
    let t0 = now - now % 60_000;
    let clock = cw_sidecar::clock::ManualClock::new(t0);
    let app = TestApp::spawn_with_clock(
        |c: &mut Config| {
            c.scrape.namespace = Some("Media".into());
            c.scrape.interval = Duration::from_secs(INTERVAL_S);
            c.scrape.targets = vec![TargetConfig::new(url.clone())];
            tune(c);
        },
        clock.clone(),
    )
    .await;
    let success = format!("target=\"{url}\",outcome=\"success\"");
    let scraped = async |n: usize| {
        until("a scrape", async || app.metric("cw_sidecar_scrapes_total", &success).await == n as f64).await;
    };
    scraped(1).await;
    let mut expected = Expected::default();
    let mut devices = BTreeSet::new();
    for step in 1..=STEPS {
        let counted = service.command("step").await;
        clock.advance(Duration::from_secs(INTERVAL_S));
        let minute = t0 + 60_000 * ((step as i64 * INTERVAL_S as i64) / 60);
        scraped(step + 1).await;
        for (key, n) in counted["requests"].as_object().unwrap() {
            let [m, p, s] = key.split('|').collect::<Vec<_>>()[..] else { panic!("{key}") };
            let dims = format!("method={m},path={p},status={s}");
            *expected.sums.entry(("http_requests_total".into(), dims, minute)).or_default() += n.as_f64().unwrap();
        }
        for (key, values) in counted["durations"].as_object().unwrap() {
            let (m, p) = key.split_once('|').unwrap();
            let values = values.as_array().unwrap().iter().map(|v| v.as_f64().unwrap());
            let entry = ("http_request_duration_seconds".into(), format!("method={m},path={p}"), minute);
            expected.observations.entry(entry).or_default().extend(values);
        }
        for (device, values) in counted["sessions"].as_object().unwrap() {
            devices.insert(device.clone());
            let values = values.as_array().unwrap().iter().map(|v| v.as_f64().unwrap());
            let entry = ("session_duration_seconds".into(), format!("device_id={device}"), minute);
            expected.observations.entry(entry).or_default().extend(values);
        }
        for (name, v) in counted["gauges"].as_object().unwrap() {
            expected.gauges.entry((name.clone(), minute)).or_default().push(v.as_f64().unwrap());
        }
    }
    // The gauges' values as the first scrape read them (all zero).
    for name in
        ["http_requests_in_flight", "websocket_connections_active", "app_memory_usage_bytes", "app_cpu_usage_percent"]
    {
        expected.gauges.entry((name.into(), t0)).or_default().push(0.0);
    }
    let (status, _) = app.flush().await;
    assert_eq!(status, 200);
    let datums = app.fake.datums("Media");
    service.quit().await;
    (app, expected, datums, devices)
}

/// Checks every series of `expected` (and no other) against the datums, per minute.
fn compare(expected: &Expected, datums: &[ReceivedDatum], sessions: impl Fn(&str) -> Option<String>) {
    let mut by: BTreeMap<(String, String, i64), Vec<&ReceivedDatum>> = BTreeMap::new();
    for d in datums {
        by.entry((d.name.clone(), dims(d), d.timestamp_ms - d.timestamp_ms % 60_000)).or_default().push(d);
    }
    let names: BTreeSet<&str> = datums.iter().map(|d| d.name.as_str()).collect();
    let wanted = [
        "app_cpu_usage_percent",
        "app_memory_usage_bytes",
        "http_request_duration_seconds",
        "http_requests_in_flight",
        "http_requests_total",
        "session_duration_seconds",
        "websocket_connections_active",
    ];
    assert_eq!(names, wanted.into_iter().collect(), "runtime families and `_created` are not published");
    for ((name, dims, minute), sum) in &expected.sums {
        let got =
            by.get(&(name.clone(), dims.clone(), *minute)).unwrap_or_else(|| panic!("no {name}{{{dims}}} at {minute}"));
        let stats = Stats::of_datums(got.iter().copied());
        assert_eq!(stats.sum, *sum, "{name}{{{dims}}} at {minute}");
        assert!(got.iter().all(|d| d.unit.as_deref() == Some("Count")));
    }
    let counter_series = by.keys().filter(|(n, _, _)| n == "http_requests_total").count();
    let expected_series = expected.sums.len();
    assert!(counter_series >= expected_series, "{counter_series} < {expected_series}");
    // Histograms: merged per what the sidecar publishes (the device_id dropped or not).
    let mut observed: BTreeMap<(String, String, i64), Vec<f64>> = BTreeMap::new();
    for ((name, dims, minute), values) in &expected.observations {
        let dims = if name == "session_duration_seconds" {
            match sessions(dims) {
                Some(d) => d,
                None => continue,
            }
        } else {
            dims.clone()
        };
        observed.entry((name.clone(), dims, *minute)).or_default().extend(values);
    }
    let histogram_keys: BTreeSet<_> = by.keys().filter(|(n, _, _)| n.ends_with("_duration_seconds")).cloned().collect();
    assert_eq!(histogram_keys, observed.keys().cloned().collect(), "the histogram series and minutes published");
    for (key, values) in &observed {
        let got = &by[key];
        let stats = Stats::of_datums(got.iter().copied());
        let (count, sum) = (values.len() as f64, values.iter().sum::<f64>());
        assert_eq!(stats.count, count, "{key:?}: SampleCount");
        assert!((stats.sum - sum).abs() <= 1e-9 * sum.abs().max(1.0), "{key:?}: Sum {} vs {sum}", stats.sum);
        assert!(got.iter().all(|d| d.unit.as_deref() == Some("Seconds")));
        for p in [50.0, 90.0, 99.0] {
            let published = percentile_of_datums(got.iter().copied(), p);
            let truth = nearest_rank(&mut values.clone(), p);
            assert_eq!(bucket_of(published), bucket_of(truth), "{key:?} p{p}: {published} vs {truth}");
        }
    }
    for ((name, minute), values) in &expected.gauges {
        let got = &by[&(name.clone(), String::new(), *minute)];
        let mut published: Vec<f64> = got
            .iter()
            .flat_map(|d| {
                d.values
                    .iter()
                    .enumerate()
                    .flat_map(|(i, v)| std::iter::repeat_n(*v, d.counts.get(i).copied().unwrap_or(1.0) as usize))
            })
            .collect();
        let mut values = values.clone();
        published.sort_by(f64::total_cmp);
        values.sort_by(f64::total_cmp);
        assert_eq!(published, values, "{name} at {minute}");
    }
    let units: BTreeMap<&str, &str> =
        datums.iter().map(|d| (d.name.as_str(), d.unit.as_deref().unwrap_or(""))).collect();
    assert_eq!(units["app_memory_usage_bytes"], "Bytes");
    assert_eq!(units["app_cpu_usage_percent"], "Percent");
    assert_eq!(units["http_requests_in_flight"], "None");
}

#[tokio::test]
#[ignore = "needs prometheus-client from PyPI: scripts/clients.sh"]
async fn prometheus_client_media_service_with_device_id_dropped() {
    let (app, expected, datums, _) = run(|c| {
        c.scrape.drop_labels = vec!["device_id".into()];
        c.scrape.family_series_warning = 20;
    })
    .await;
    // Without device_id, the sessions of every device are one series.
    compare(&expected, &datums, |_| Some(String::new()));
    let url = format!("target=\"{}\"", datums_target(&app).await);
    assert_eq!(app.metric("cw_sidecar_scrape_series_published", &url).await, 18.0 + 6.0 + 4.0 + 1.0);
    assert_eq!(app.metric("cw_sidecar_scrape_series_capped", &url).await, 0.0);
    assert!(app.shutdown().await.complete());
}

#[tokio::test]
#[ignore = "needs prometheus-client from PyPI: scripts/clients.sh"]
async fn prometheus_client_media_service_with_device_id_capped() {
    // 18 request counters, 6 duration histograms and 4 gauges leave 10 places for 40 devices.
    let (app, expected, datums, _) = run(|c| c.scrape.max_series_per_target = 38).await;
    let published: BTreeSet<String> =
        datums.iter().filter(|d| d.name == "session_duration_seconds").map(dims).collect();
    assert_eq!(published.len(), 10, "{published:?}");
    compare(&expected, &datums, |d| published.contains(d).then(|| d.to_string()));
    let url = format!("target=\"{}\"", datums_target(&app).await);
    assert_eq!(app.metric("cw_sidecar_scrape_series_published", &url).await, 38.0);
    assert_eq!(app.metric("cw_sidecar_scrape_series_capped", &url).await, 30.0);
    let refused = app.metric("cw_sidecar_scrape_series_refused_total", &format!("{url},reason=\"capped\"")).await;
    assert_eq!(refused, 30.0 * (STEPS + 1) as f64, "30 series refused at every scrape");
    assert!(app.shutdown().await.complete());
}

/// The one target's URL, as `/metrics` labels it.
async fn datums_target(app: &TestApp) -> String {
    let (_, text) = app.get("/metrics").await;
    let line = text.lines().find(|l| l.starts_with("cw_sidecar_scrape_up{")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}
