//! The real sender: Debian's `prometheus` 2.42 server scrapes a fake target on 127.0.0.1 and
//! remote-writes to the sidecar. What reaches the fake CloudWatch matches what the target
//! served: the counter's increases, the histogram's counts and sums, the gauge's values, with
//! `job` and `instance` as dimensions.
//!
//! The binary is `PROMETHEUS_BIN` when set, else the one `scripts/clients.sh` takes out of
//! Debian's package (`tests/clients/.prometheus/usr/bin/prometheus`), else
//! `/usr/bin/prometheus`; the test fails when there is none.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, TestApp};
use crate::scrape::FakeTarget;

const NAMESPACE: &str = "Prom";
/// Scrapes whose values change; later ones answer the last values again.
const CHANGING: usize = 6;

pub(crate) fn prometheus_binary() -> PathBuf {
    let bundled = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/.prometheus/usr/bin/prometheus");
    let candidates = std::env::var_os("PROMETHEUS_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([bundled, PathBuf::from("/usr/bin/prometheus")]);
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "no Prometheus server binary: run scripts/clients.sh (it takes it out of Debian's prometheus package), or set PROMETHEUS_BIN"
    );
}

/// The exposition of the target's n-th scrape (values frozen after [`CHANGING`]): a counter
/// counting 3 per scrape, a histogram observing 0.05, 0.5 and 2 per scrape, a gauge at n.
fn exposition(n: usize) -> String {
    exposition_until(n, CHANGING)
}

/// [`exposition`] with its values frozen after `changing` scrapes.
pub(crate) fn exposition_until(n: usize, changing: usize) -> String {
    let n = n.min(changing) as f64;
    format!(
        "# TYPE jobs_total counter\njobs_total{{queue=\"mail\"}} {jobs}\n\
         # TYPE latency_seconds histogram\n\
         latency_seconds_bucket{{le=\"0.1\"}} {n}\nlatency_seconds_bucket{{le=\"1\"}} {two}\n\
         latency_seconds_bucket{{le=\"+Inf\"}} {three}\nlatency_seconds_sum {sum}\nlatency_seconds_count {three}\n\
         # TYPE temperature gauge\ntemperature {n}\n",
        jobs = 3.0 * n,
        two = 2.0 * n,
        three = 3.0 * n,
        sum = 2.55 * n,
    )
}

#[tokio::test]
async fn prometheus_forwards_what_it_scraped_and_the_sidecar_publishes_it() {
    let binary = prometheus_binary();
    let app = TestApp::spawn(|c| c.remote_write.namespace = Some(NAMESPACE.into())).await;
    let target = FakeTarget::start(
        Duration::ZERO,
        Box::new(|n| (vec![("Content-Type", "text/plain; version=0.0.4".into())], exposition(n).into_bytes())),
    )
    .await;
    let dir = std::env::temp_dir().join(format!("cw-sidecar-prometheus-{}-{}", std::process::id(), target.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n  - url: {base}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n\
         \x20     min_backoff: 100ms\n      max_backoff: 1s\n",
        target = target.addr,
        base = app.base,
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let mut prometheus = tokio::process::Command::new(&binary)
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
    let instance = target.addr.to_string();
    // The counter's and the histogram's increases over the changing scrapes: every scrape
    // after the first (its baseline).
    let (jobs, observations, sum) =
        (3.0 * (CHANGING - 1) as f64, 3.0 * (CHANGING - 1) as f64, 2.55 * (CHANGING - 1) as f64);
    let deadline = Instant::now() + Duration::from_secs(60);
    let of = |datums: &[ReceivedDatum], name: &str| -> Vec<ReceivedDatum> {
        datums.iter().filter(|d| d.name == name).cloned().collect()
    };
    let datums = loop {
        assert_eq!(app.flush().await.0, 200);
        let datums = app.fake.datums(NAMESPACE);
        let done = Stats::of_datums(&of(&datums, "jobs_total")).sum >= jobs
            && Stats::of_datums(&of(&datums, "latency_seconds")).count >= observations;
        if done {
            break datums;
        }
        if Instant::now() > deadline || prometheus.try_wait().unwrap().is_some() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!(
                "Prometheus did not forward {CHANGING} scrapes within 60s (target hit {} times):\n{log}",
                target.hits.load(std::sync::atomic::Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    prometheus.kill().await.unwrap();
    let job: std::collections::BTreeMap<String, String> =
        [("instance", instance.as_str()), ("job", "shop")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    let counter = of(&datums, "jobs_total");
    assert_eq!(Stats::of_datums(&counter).sum, jobs, "{counter:?}");
    let mut with_queue = job.clone();
    with_queue.insert("queue".into(), "mail".into());
    assert!(counter.iter().all(|d| d.dimensions == with_queue && d.unit.as_deref() == Some("Count")), "{counter:?}");
    let latency = of(&datums, "latency_seconds");
    let s = Stats::of_datums(&latency);
    assert_eq!(s.count, observations, "{latency:?}");
    assert!((s.sum - sum).abs() < 1e-6, "{latency:?}");
    assert!(latency.iter().all(|d| d.dimensions == job && d.unit.as_deref() == Some("Seconds")), "{latency:?}");
    let temperature: Vec<f64> = of(&datums, "temperature").iter().flat_map(|d| d.values.clone()).collect();
    for n in 1..=CHANGING {
        assert!(temperature.contains(&(n as f64)), "gauge value {n} missing from {temperature:?}");
    }
    // Prometheus' own series of the scrape come along, `up` among them.
    assert!(of(&datums, "up").iter().all(|d| d.dimensions == job && d.values.iter().all(|v| *v == 1.0)));
    assert!(!of(&datums, "up").is_empty());
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "").await, 0.0, "every request was taken");
    assert!(app.metric("cw_sidecar_remote_write_samples_total", "outcome=\"published\"").await > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}
