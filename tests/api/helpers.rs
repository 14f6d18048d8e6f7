//! Starting the app against the fake, and reading back what CloudWatch would compute.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use cw_core::pipeline::Pipeline;
use cw_sidecar::app::{App, ShutdownReport};
use cw_sidecar::clock::{SharedClock, SystemClock};
use cw_sidecar::config::Config;
use cw_sidecar::publish::sink::Sink;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fake_cloudwatch::{FakeCloudWatch, ReceivedDatum};

pub struct TestApp {
    pub base: String,
    pub fake: FakeCloudWatch,
    pub http: reqwest::Client,
    /// The pipeline every input submits to, for tests that are an input of their own.
    pub pipeline: std::sync::Arc<Pipeline>,
    /// Where StatsD and EMF listen when configured: (UDP, TCP).
    pub statsd: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
    pub emf: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
    /// The OTLP listener, when configured.
    pub otlp: Option<std::net::SocketAddr>,
    /// Every input's addresses: (input, kind, address); see [`TestApp::addr`].
    pub addresses: Vec<(&'static str, &'static str, std::net::SocketAddr)>,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<ShutdownReport>>>,
}

/// A shutdown under way (see [`TestApp::begin_shutdown`]).
pub struct ShuttingDown {
    running: JoinHandle<std::io::Result<ShutdownReport>>,
    fake: FakeCloudWatch,
}

impl ShuttingDown {
    /// Whether `run_until_stopped` has returned.
    pub fn is_finished(&self) -> bool {
        self.running.is_finished()
    }

    /// Waits for shutdown to finish; panics if the fake failed on a request.
    pub async fn report(self) -> ShutdownReport {
        let report = self.running.await.unwrap().unwrap();
        self.fake.check();
        report
    }
}

/// A client of CloudWatch at `endpoint` as the sidecar builds it (one attempt, timeouts).
pub fn sdk_config(endpoint: &str) -> aws_sdk_cloudwatch::config::Builder {
    aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
}

/// Settings for tests: only explicit flushes, no self metrics, a generous rate limit.
pub fn test_config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        namespace: Some("Test".into()),
        flush_interval: Duration::from_secs(3600),
        self_metrics_namespace: String::new(),
        max_put_requests_per_second: 1000,
        publish_timeout: Duration::from_secs(2),
        shutdown_timeout: Duration::from_secs(10),
        // The test process's memory is every test's: no ceiling from the cgroup here.
        max_memory: cw_sidecar::config::MaxMemory::None,
        ..Config::default()
    }
}

impl TestApp {
    /// Where input `name` listens for `kind` (`udp`, `tcp`, `http`), if it does.
    pub fn addr(&self, name: &str, kind: &str) -> Option<std::net::SocketAddr> {
        self.addresses.iter().find(|(n, k, _)| *n == name && *k == kind).map(|(_, _, a)| *a)
    }

    pub async fn spawn(tune: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::spawn_with_clock(tune, SystemClock::shared()).await
    }

    /// The app on `clock`: a test with a [`cw_sidecar::clock::ManualClock`] moves time itself.
    pub async fn spawn_with_clock(tune: impl FnOnce(&mut Config), clock: SharedClock) -> TestApp {
        TestApp::try_spawn(tune, clock, &|_| None).await.unwrap()
    }

    /// The app with the environment variables `lookup` gives (the `[environment]` detectors
    /// read theirs there), or the error that stopped it from starting.
    pub async fn try_spawn(
        tune: impl FnOnce(&mut Config),
        clock: SharedClock,
        lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> std::io::Result<TestApp> {
        let fake = FakeCloudWatch::start().await;
        let mut config = test_config();
        tune(&mut config);
        let sink = Sink::cloudwatch(
            sdk_config(&fake.url()),
            config.publish_timeout,
            config.integer_timestamps.unwrap_or(false),
        );
        let app = App::build_with_env(config, sink, clock, lookup).await?;
        let pipeline = app.pipeline();
        let addresses = app.addresses();
        let addr = |name: &str, kind: &str| app.addr(name, kind);
        let (statsd, emf, otlp) = (
            (addr("statsd", "udp"), addr("statsd", "tcp")),
            (addr("emf", "udp"), addr("emf", "tcp")),
            addr("otlp", "http"),
        );
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel();
        let running = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Ok(TestApp {
            base,
            fake,
            http: reqwest::Client::new(),
            pipeline,
            statsd,
            emf,
            otlp,
            addresses,
            stop: Some(stop),
            running: Some(running),
        })
    }

    pub async fn post(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .http
            .post(format!("{}/v1/metrics", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
    }

    pub async fn post_json(&self, body: Value) -> (u16, Value) {
        let (status, body, _) = self.post("application/json", body.to_string()).await;
        (status, body)
    }

    pub async fn flush(&self) -> (u16, Value) {
        let r = self.http.post(format!("{}/v1/flush", self.base)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// A counter's value from `/metrics` (summed over labels when `labels` is empty).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        metric_in(&self.get("/metrics").await.1, name, labels)
    }

    /// Starts shutdown and returns at once. The app keeps serving HTTP (ingest answers 503)
    /// until it has published what it holds, so the test can still use `base` and `http`.
    pub fn begin_shutdown(&mut self) -> ShuttingDown {
        self.fake.check();
        self.stop.take().expect("shutdown already begun").send(()).unwrap();
        ShuttingDown { running: self.running.take().unwrap(), fake: self.fake.clone() }
    }

    pub async fn shutdown(mut self) -> ShutdownReport {
        self.begin_shutdown().report().await
    }
}

impl Drop for TestApp {
    /// A test that ends without looking at the fake still fails if the fake did.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.fake.check();
        }
    }
}

/// A metric's value in Prometheus text (summed over labels when `labels` is empty; 0 when absent).
pub fn metric_in(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(k, _)| {
            let (metric, rest) = k.split_once('{').unwrap_or((k, ""));
            metric == name && (labels.is_empty() || rest.trim_end_matches('}') == labels)
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

/// CloudWatch's statistics over a set of datums: SampleCount, Sum, Minimum, Maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn of_samples(values: &[f64]) -> Stats {
        Stats {
            count: values.len() as f64,
            sum: values.iter().sum(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    pub fn of_datums<'a>(datums: impl IntoIterator<Item = &'a ReceivedDatum>) -> Stats {
        let mut s = Stats { count: 0.0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY };
        for d in datums {
            if let Some([count, sum, min, max]) = d.statistics {
                s.count += count;
                s.sum += sum;
                s.min = s.min.min(min);
                s.max = s.max.max(max);
            }
            for (i, v) in d.values.iter().enumerate() {
                let c = d.counts.get(i).copied().unwrap_or(1.0);
                s.count += c;
                s.sum += v * c;
                s.min = s.min.min(*v);
                s.max = s.max.max(*v);
            }
        }
        s
    }

    pub fn assert_close(&self, other: &Stats, what: &str) {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
        assert!(
            close(self.count, other.count)
                && close(self.sum, other.sum)
                && self.min == other.min
                && self.max == other.max,
            "{what}: published {self:?} vs raw {other:?}"
        );
    }
}

/// Nearest-rank percentile over the values CloudWatch would hold (whole counts).
pub fn percentile_of_datums<'a>(datums: impl IntoIterator<Item = &'a ReceivedDatum>, p: f64) -> f64 {
    let mut all = Vec::new();
    for d in datums {
        for (i, v) in d.values.iter().enumerate() {
            let c = d.counts.get(i).copied().unwrap_or(1.0);
            all.extend(std::iter::repeat_n(*v, c as usize));
        }
    }
    nearest_rank(&mut all, p)
}

pub fn nearest_rank(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    values[rank - 1]
}

/// Datums grouped by metric name and dimensions.
pub fn by_series(datums: &[ReceivedDatum]) -> BTreeMap<(String, BTreeMap<String, String>), Vec<ReceivedDatum>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for d in datums {
        out.entry((d.name.clone(), d.dimensions.clone())).or_default().push(d.clone());
    }
    out
}

pub fn now_ms() -> i64 {
    cw_sidecar::clock::system_now_ms()
}

/// A timestamp in the middle of the current minute's window... or the previous one, so a
/// test never straddles a window boundary.
pub fn mid_window_ms() -> i64 {
    let now = now_ms();
    now - now % 60_000 - 30_000
}

/// Polls (in real time, bounded) until `done` holds.
pub async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// Raw connections, for tests of what clients can hold open.

/// Set in a process that runs one test alone (see [`in_a_process_of_its_own`]).
const CHILD: &str = "CW_SIDECAR_TEST_CHILD";

/// Whether this process runs one test alone.
pub fn is_child_process() -> bool {
    std::env::var_os(CHILD).is_some()
}

pub async fn connect(addr: &str) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (EOF or reset), within `within`; returns what
/// it sent before, or panics naming `what` if the connection is still open.
pub async fn closed_by_server(mut s: TcpStream, within: Duration, what: &str) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!("{what}: still open after {within:?}"),
            Ok(Ok(0)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => return got,
            Ok(Err(e)) => panic!("{what}: {e}"),
        }
    }
}

/// `GET /healthz` on a new connection; the time to the whole answer.
fn probe(addr: &str) -> Duration {
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("/healthz answers within 2s");
    assert!(answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(b"ok\n"), "{}", String::from_utf8_lossy(&answer));
    started.elapsed()
}

/// Probes `/healthz` every 10 ms on a thread of its own (so that its measure is the server's
/// answer, not the test's scheduling) until stopped; returns every latency.
pub fn start_prober(addr: String) -> (Arc<AtomicBool>, std::thread::JoinHandle<Vec<Duration>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut latencies = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            latencies.push(probe(&addr));
            std::thread::sleep(Duration::from_millis(10));
        }
        latencies
    });
    (stop, thread)
}

/// Resident memory of this process, from /proc/self/status.
pub fn rss_bytes() -> u64 {
    proc_status_kb(std::process::id(), "VmRSS") * 1024
}

/// Held, shared, by tests that keep both cores busy (the spool's load tests), and alone by a
/// test run in a process of its own (whose latencies must be the app's, not the machine's).
pub static CPU_BOUND: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Runs a CPU-bound test (on a runtime of its own, two workers) while holding [`CPU_BOUND`]
/// shared.
pub fn cpu_bound(test: impl std::future::Future<Output = ()>) {
    let _busy = CPU_BOUND.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(test);
}

/// Runs the test named `name` again in a process of its own, where it is the only test, so
/// that the resident memory it measures is its own and the app's, not the other tests'. No
/// CPU-bound test runs meanwhile ([`CPU_BOUND`]).
pub fn in_a_process_of_its_own(name: &str) {
    let _alone = CPU_BOUND.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{name} did not finish within 120s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    print!("{out}");
    eprint!("{err}");
    assert!(status.success(), "{name} failed in its own process:\n{out}\n{err}");
    assert!(out.contains("1 passed"), "{name} did not run in its own process:\n{out}");
}

// The real binary, as a process of its own.

pub const BIN: &str = env!("CARGO_BIN_EXE_cw-sidecar");

/// The binary, without the caller's `CW_SIDECAR_*` and `AWS_*` variables.
pub fn sidecar_command() -> Command {
    let mut c = Command::new(BIN);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CW_SIDECAR_") || k.starts_with("AWS_")) {
        c.env_remove(key);
    }
    c
}

/// Log lines of a sidecar process kept for a failing test (the last ones).
const KEPT_LOG_LINES: usize = 200;

/// The binary serving on a port of its choice and publishing to a [`FakeCloudWatch`]; killed
/// (by its own pid) if still running when dropped. Its log goes to stderr when
/// `SIDECAR_TEST_LOGS` is set; otherwise its last lines are printed if the test fails.
pub struct Sidecar {
    pub base: String,
    pub http: reqwest::Client,
    child: tokio::process::Child,
    log: Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

impl Sidecar {
    /// Starts the binary with `args` (and `--listen 127.0.0.1:0`) against `fake`; returns once
    /// it logged the address it listens on and `/readyz` answers 200.
    pub async fn start(fake: &FakeCloudWatch, args: &[impl AsRef<std::ffi::OsStr>]) -> Sidecar {
        Sidecar::start_within(fake, args, Duration::from_secs(30)).await
    }

    /// [`Sidecar::start`], waiting `ready` for the address (a start that replays a large
    /// spool takes longer).
    pub async fn start_within(fake: &FakeCloudWatch, args: &[impl AsRef<std::ffi::OsStr>], ready: Duration) -> Sidecar {
        let listen = "127.0.0.1:0";
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::from(sidecar_command())
            .args(["--listen", listen, "--log-format", "text"])
            .args(args)
            .env("AWS_ENDPOINT_URL", fake.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let echo = std::env::var_os("SIDECAR_TEST_LOGS").is_some();
        let log = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (listening, mut address) = tokio::sync::mpsc::unbounded_channel();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    eprintln!("sidecar: {line}");
                }
                if line.contains("cw-sidecar ready") {
                    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("listen=")).map(str::to_string);
                    let _ = listening.send(addr);
                }
                let mut kept = kept.lock().unwrap();
                if kept.len() == KEPT_LOG_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let mut sidecar = Sidecar { base: String::new(), http: reqwest::Client::new(), child, log };
        let addr = tokio::time::timeout(ready, address.recv()).await;
        let Ok(Some(Some(addr))) = addr else {
            let exited = sidecar.child.try_wait().unwrap();
            panic!("the sidecar did not log `cw-sidecar ready listen=…` within {ready:?} (exit: {exited:?})");
        };
        sidecar.base = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = sidecar.http.get(format!("{}/readyz", sidecar.base)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return sidecar;
            }
            assert!(Instant::now() < deadline, "/readyz did not answer 200 within 10s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the sidecar is still running")
    }

    /// The last lines it logged (at most 200).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect()
    }

    /// The address as `healthcheck --listen` takes it.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).unwrap();
        // SAFETY: kill(2) on the pid of a child this process started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
    }

    /// SIGKILL, and waits until it is gone.
    pub async fn kill(mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().await.unwrap();
    }

    /// SIGTERM; its exit status (after its last log lines, when it is not success). Panics if
    /// it has not exited within `within`.
    pub async fn terminate(mut self, within: Duration) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("the sidecar did not exit within {within:?} of SIGTERM"),
        };
        use std::os::unix::process::ExitStatusExt;
        assert_ne!(
            status.signal(),
            Some(libc::SIGTERM),
            "killed by SIGTERM, unhandled: the sidecar had not installed its handler"
        );
        if !status.success() {
            // The reader has seen EOF, or soon will: the process is gone.
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.print_log(&format!("exited with {status}"));
        }
        status
    }

    fn print_log(&self, why: &str) {
        let log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        eprintln!("--- {why}: the sidecar's last {} log lines ---", log.len());
        for line in log.iter() {
            eprintln!("{line}");
        }
    }

    pub async fn post_json(&self, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http.post(format!("{}/v1/metrics", self.base)).json(body).send().await
    }

    /// `POST /v1/flush`: its status and counts.
    pub async fn flush(&self) -> (u16, Value) {
        let r = self.http.post(format!("{}/v1/flush", self.base)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn metrics(&self) -> String {
        self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap()
    }

    /// A metric's value from `/metrics` (see [`metric_in`]).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        metric_in(&self.metrics().await, name, labels)
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_log("the test failed");
        }
    }
}

/// A value from `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`...).
pub fn proc_status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':'))).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The open file descriptors of a process.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}
