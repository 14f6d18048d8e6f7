//! `[environment]` in the real binary: the detectors read the process's own variables
//! (`ECS_CONTAINER_METADATA_URI_V4`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`) pointing at the
//! fakes, and the published datum (`--dry-run` prints each PutMetricData on stdout) carries
//! what they found; a detector that cannot reach its endpoint stops the start under
//! `fail_on_missing`, naming itself, and is warned about and counted otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::fake_metadata::{self, ECS_EC2_TASK, Imds};
use crate::helpers::{metric_in, sidecar_command};

/// A config file of its own for one test, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(name: &str, text: &str) -> ConfigFile {
        let dir = std::env::temp_dir().join(format!("cw-sidecar-env-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sidecar.toml");
        std::fs::write(&path, text).unwrap();
        ConfigFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The binary in `--dry-run` with `config` and the variables `env`, its stdout and stderr
/// read line by line.
struct DryRun {
    child: tokio::process::Child,
    stdout: UnboundedReceiver<String>,
    stderr: UnboundedReceiver<String>,
    log: Vec<String>,
    base: String,
}

fn lines(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> UnboundedReceiver<String> {
    let (tx, rx) = unbounded_channel();
    let mut lines = tokio::io::BufReader::new(stream).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if std::env::var_os("SIDECAR_TEST_LOGS").is_some() {
                eprintln!("sidecar: {line}");
            }
            let _ = tx.send(line);
        }
    });
    rx
}

impl DryRun {
    fn spawn(config: &ConfigFile, env: &[(&str, &str)]) -> DryRun {
        let mut command = tokio::process::Command::from(sidecar_command());
        command
            .args(["--dry-run", "--listen", "127.0.0.1:0", "--log-format", "text", "--config", config.path()])
            .args(["--namespace", "EnvBin", "--self-metrics-namespace", "", "--flush-interval", "1h"])
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        DryRun { child, stdout, stderr, log: Vec::new(), base: String::new() }
    }

    /// Reads its log until it is ready (then knows its address) or exits (its status).
    async fn started(&mut self) -> Result<(), std::process::ExitStatus> {
        let within = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let line = tokio::time::timeout_at(within, self.stderr.recv()).await.expect("ready or gone within 30 s");
            let Some(line) = line else {
                let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.unwrap().unwrap();
                return Err(status);
            };
            let addr = line.split_whitespace().find_map(|w| w.strip_prefix("listen=")).map(str::to_string);
            self.log.push(line.clone());
            if line.contains("cw-sidecar ready")
                && let Some(addr) = addr
            {
                self.base = format!("http://{addr}");
                return Ok(());
            }
        }
    }

    /// The first PutMetricData request printed for namespace `EnvBin`, within 10 s.
    async fn published(&mut self) -> Value {
        let within = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let line = tokio::time::timeout_at(within, self.stdout.recv()).await.expect("a request within 10 s");
            let line = line.expect("stdout open");
            if let Ok(request) = serde_json::from_str::<Value>(&line)
                && request["Namespace"] == "EnvBin"
            {
                return request;
            }
        }
    }
}

/// The dimensions of a datum as dry-run prints it (`[{"Name", "Value"}]`).
fn dimensions_of(datum: &Value) -> BTreeMap<String, String> {
    let dims = datum["Dimensions"].as_array().cloned().unwrap_or_default();
    dims.iter().map(|d| (d["Name"].as_str().unwrap().to_string(), d["Value"].as_str().unwrap().to_string())).collect()
}

#[tokio::test]
async fn the_binary_adds_what_ecs_and_imdsv2_detect_to_the_published_datum() {
    let ecs = fake_metadata::ecs(ECS_EC2_TASK).await;
    let (imds, seen) = fake_metadata::imds(Imds::V2).await;
    let config = ConfigFile::new(
        "detected",
        "[environment]\ndetect = [\"ecs\", \"ec2\"]\n\
         dimensions = { TaskFamily = \"ecs.task_family\", Cluster = \"ecs.cluster\", InstanceId = \"ec2.instance_id\", InstanceType = \"ec2.instance_type\" }\n",
    );
    let mut bin = DryRun::spawn(
        &config,
        &[("ECS_CONTAINER_METADATA_URI_V4", &ecs), ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)],
    );
    bin.started().await.unwrap_or_else(|status| panic!("exited with {status}: {:#?}", bin.log));
    let http = reqwest::Client::new();
    let record = json!([{"name": "Latency", "value": 5, "unit": "Milliseconds", "dimensions": {"Route": "/a"}}]);
    let answer = http.post(format!("{}/v1/metrics", bin.base)).json(&record).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    let flushed = http.post(format!("{}/v1/flush", bin.base)).send().await.unwrap();
    assert_eq!(flushed.status(), 200);
    let request = bin.published().await;
    let data = request["MetricData"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{request}");
    assert_eq!(data[0]["MetricName"], "Latency");
    let expected = [
        ("Cluster", "default"),
        ("InstanceId", "i-1234567890abcdef0"),
        ("InstanceType", "t2.micro"),
        ("Route", "/a"),
        ("TaskFamily", "curltest"),
    ];
    let expected: BTreeMap<String, String> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(dimensions_of(&data[0]), expected, "{request}");
    // IMDSv2's flow: one token asked for, no GET refused for the lack of it.
    assert_eq!(seen.token_puts.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(seen.refused_gets.load(std::sync::atomic::Ordering::SeqCst), 0);
    let metrics = http.get(format!("{}/metrics", bin.base)).send().await.unwrap().text().await.unwrap();
    for detector in ["ecs", "ec2"] {
        let labels = format!(r#"detector="{detector}",outcome="detected""#);
        assert_eq!(metric_in(&metrics, "cw_sidecar_environment_detections_total", &labels), 1.0, "{detector}");
    }
    assert_eq!(metric_in(&metrics, "cw_sidecar_environment_dimensions", ""), 4.0);
    bin.child.kill().await.unwrap();
}

/// A port nothing listens on, as the metadata endpoint.
fn closed_endpoint() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    format!("http://{closed}")
}

const MISSING: &str = "[environment]\ndetect = [\"ecs\", \"ec2\"]\n\
    dimensions = { TaskFamily = \"ecs.task_family\", InstanceId = \"ec2.instance_id\" }\n";

#[tokio::test]
async fn fail_on_missing_stops_the_binary_naming_the_detector() {
    let config = ConfigFile::new("fail", &format!("{MISSING}fail_on_missing = true\ndetect_timeout = \"1s\"\n"));
    // Outside ECS (no variable) and an IMDS endpoint that refuses connections.
    let imds = closed_endpoint();
    let mut bin = DryRun::spawn(&config, &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)]);
    let Err(status) = bin.started().await else {
        panic!("started without its environment: {:#?}", bin.log);
    };
    assert!(!status.success(), "{status}");
    let log = bin.log.join("\n");
    assert!(log.contains("fail_on_missing"), "{log}");
    assert!(log.contains("detector ecs") && log.contains("not in an ECS task"), "{log}");
    assert!(log.contains("detector ec2"), "{log}");
}

#[tokio::test]
async fn without_fail_on_missing_the_binary_starts_warns_and_counts_the_failure() {
    let config = ConfigFile::new("warn", &format!("{MISSING}detect_timeout = \"1s\"\n"));
    let imds = closed_endpoint();
    let mut bin = DryRun::spawn(&config, &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)]);
    bin.started().await.unwrap_or_else(|status| panic!("exited with {status}: {:#?}", bin.log));
    for detector in ["ecs", "ec2"] {
        let named =
            |l: &str| l.contains(&format!("detector=\"{detector}\"")) || l.contains(&format!("detector={detector}"));
        let warned =
            bin.log.iter().any(|l| l.contains("WARN") && l.contains("environment detector failed") && named(l));
        assert!(warned, "no warning naming {detector}: {:#?}", bin.log);
    }
    let http = reqwest::Client::new();
    let metrics = http.get(format!("{}/metrics", bin.base)).send().await.unwrap().text().await.unwrap();
    for detector in ["ecs", "ec2"] {
        let labels = format!(r#"detector="{detector}",outcome="failed""#);
        assert_eq!(metric_in(&metrics, "cw_sidecar_environment_detections_total", &labels), 1.0, "{detector}");
    }
    assert_eq!(metric_in(&metrics, "cw_sidecar_environment_dimensions", ""), 0.0);
    assert_eq!(metric_in(&metrics, "cw_sidecar_environment_dimensions_missing_total", ""), 2.0);
    // It runs: a record without the environment's dimensions is published.
    let record = json!([{"name": "Plain", "value": 1, "dimensions": {"Route": "/b"}}]);
    let answer = http.post(format!("{}/v1/metrics", bin.base)).json(&record).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    http.post(format!("{}/v1/flush", bin.base)).send().await.unwrap();
    let request = bin.published().await;
    let datum = &request["MetricData"][0];
    assert_eq!(dimensions_of(datum), BTreeMap::from([("Route".to_string(), "/b".to_string())]), "{request}");
    bin.child.kill().await.unwrap();
}
