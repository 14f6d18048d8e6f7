//! The disk spool (`[spool]`): what was answered 202 is published after a kill -9, after an
//! outage longer than memory holds, and past damaged spool files. The real binary against the
//! in-process fake CloudWatch, each test with a spool directory of its own.
//!
//! Load tests send every sample with a value of its own (`client << 32 | seq`) and keep each
//! series-window under 150 samples, so that every window is published as exact values and
//! each published value names the sample it was.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::time::sleep;

use crate::fake_cloudwatch::{FakeCloudWatch, Fault, ReceivedRequest};
use crate::helpers::{Sidecar, cpu_bound, now_ms, open_fds, proc_status_kb, until};

const NAMESPACE: &str = "Spool";

/// A spool directory of the test's own under the temp dir: removed at the end, kept (and
/// named) when the test fails.
pub(crate) struct SpoolDir(pub(crate) PathBuf);

impl SpoolDir {
    pub(crate) fn new(test: &str) -> SpoolDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("cw-sidecar-spool-{test}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        SpoolDir(dir)
    }

    /// The flags of every run: the test namespace, no self metrics, 1 s flushes, this spool.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = plain_args(extra);
        args.extend(["--spool-dir".to_string(), self.0.to_str().unwrap().to_string()]);
        args
    }

    /// Files (in the spool and under it) named `prefix…`, by name.
    pub(crate) fn files(&self, prefix: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, prefix, out);
                } else if path.file_name().unwrap().to_str().is_some_and(|n| n.starts_with(prefix)) {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, prefix, &mut out);
        out.sort();
        out
    }

    /// Bytes of every file in the spool.
    fn bytes(&self) -> u64 {
        self.files("").iter().map(|f| f.metadata().map_or(0, |m| m.len())).sum()
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("spool directory kept: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The flags of a run without a spool.
fn plain_args(extra: &[&str]) -> Vec<String> {
    let common = ["--namespace", NAMESPACE, "--self-metrics-namespace", "", "--flush-interval", "1s"];
    common.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// The seed of a test's random choices (the kill's moment, the bodies), printed:
/// `SPOOL_TEST_SEED` repeats them (not the timing of the machine).
fn seed(test: &str) -> fastrand::Rng {
    let seed = std::env::var("SPOOL_TEST_SEED").map_or_else(|_| fastrand::u64(..), |s| s.parse().unwrap());
    println!("{test}: seed {seed} (SPOOL_TEST_SEED={seed} repeats its choices)");
    fastrand::Rng::with_seed(seed)
}

// Load: clients posting continuously, and what became of each sample.

/// Samples one client puts in one series-window: under CloudWatch's 150 values per datum.
const PER_SERIES_WINDOW: usize = 140;
/// Enough that a client is seldom held back by [`PER_SERIES_WINDOW`] (128 × 140 samples a
/// second), so that requests are in flight at any moment.
const SERIES_PER_CLIENT: usize = 128;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// Answered 202.
    Accepted,
    /// Answered, but not 202: nothing of it may be published.
    Refused,
    /// No answer (in flight at the kill): it may be published, once.
    NoAnswer,
}

/// A sample sent: its series, its 1 s window and its request (an index into the outcomes).
#[derive(Clone, Copy)]
struct Sample {
    series: usize,
    window_ms: i64,
    request: u32,
}

/// What a client sent: `samples[seq]` has the value [`sample_value`]`(client, seq)`.
struct ClientLog {
    client: u32,
    samples: Vec<Sample>,
    outcomes: Vec<Outcome>,
}

/// Below 2^53 (while `client` < 2^21): exact as a CloudWatch double.
fn sample_value(client: u32, seq: usize) -> u64 {
    (u64::from(client) << 32) | seq as u64
}

fn series_name(series: usize) -> String {
    format!("s{series}")
}

/// Samples by outcome so far, over all clients (for progress lines).
#[derive(Default)]
struct Progress {
    accepted: AtomicU64,
    refused: AtomicU64,
    no_answer: AtomicU64,
}

impl Progress {
    fn line(&self) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!("samples accepted {} refused {} unanswered {}", n(&self.accepted), n(&self.refused), n(&self.no_answer))
    }
}

/// Clients posting to `base` until `stop`: bodies of 50 to 200 high-resolution records over
/// their own [`SERIES_PER_CLIENT`] series, timestamped now, `pause` between posts.
struct Load {
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
    clients: Vec<tokio::task::JoinHandle<ClientLog>>,
}

impl Load {
    fn start(base: &str, clients: u32, rng: &mut fastrand::Rng, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Progress::default());
        let clients = (0..clients)
            .map(|c| tokio::spawn(client(base.to_string(), c, rng.u64(..), pause, stop.clone(), progress.clone())))
            .collect();
        Load { stop, progress, clients }
    }

    /// Tells the clients to send no further request.
    fn halt(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stops the clients; what they sent, once requests in flight have ended in an answer or
    /// an error.
    async fn stop(self) -> Vec<ClientLog> {
        self.halt();
        let mut logs = Vec::new();
        for c in self.clients {
            logs.push(c.await.unwrap());
        }
        logs
    }
}

async fn client(
    base: String,
    client: u32,
    seed: u64,
    pause: Duration,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
) -> ClientLog {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut log = ClientLog { client, samples: Vec::new(), outcomes: Vec::new() };
    let first_series = client as usize * SERIES_PER_CLIENT;
    let (mut window, mut used, mut next) = (0, [0; SERIES_PER_CLIENT], 0);
    while !stop.load(Ordering::SeqCst) {
        let ts = now_ms();
        if ts - ts % 1000 != window {
            (window, used) = (ts - ts % 1000, [0; SERIES_PER_CLIENT]);
        }
        let request = log.outcomes.len() as u32;
        let mut records = Vec::new();
        for _ in 0..rng.usize(50..=200) {
            let room =
                (0..SERIES_PER_CLIENT).map(|i| (next + i) % SERIES_PER_CLIENT).find(|&k| used[k] < PER_SERIES_WINDOW);
            let Some(k) = room else { break };
            (used[k], next) = (used[k] + 1, k + 1);
            let series = first_series + k;
            let value = sample_value(client, log.samples.len());
            log.samples.push(Sample { series, window_ms: window, request });
            records.push(json!({
                "name": "Load", "value": value, "dimensions": {"Series": series_name(series)},
                "storage_resolution": 1, "timestamp": ts,
            }));
        }
        if records.is_empty() {
            sleep(Duration::from_millis((1000 - ts % 1000) as u64)).await;
            continue;
        }
        let outcome = post(&http, &base, &records).await;
        let counter = match outcome {
            Outcome::Accepted => &progress.accepted,
            Outcome::Refused => &progress.refused,
            Outcome::NoAnswer => &progress.no_answer,
        };
        counter.fetch_add(records.len() as u64, Ordering::Relaxed);
        log.outcomes.push(outcome);
        sleep(pause).await;
    }
    log
}

async fn post(http: &reqwest::Client, base: &str, records: &[Value]) -> Outcome {
    match http.post(format!("{base}/v1/metrics")).json(records).send().await {
        Err(_) => Outcome::NoAnswer,
        Ok(r) if r.status() == 202 => {
            // The status is the answer; a body cut short by the kill says nothing more.
            if let Ok(body) = r.json::<Value>().await {
                assert_eq!(body["accepted"].as_u64(), Some(records.len() as u64), "every record is valid: {body}");
            }
            Outcome::Accepted
        }
        Ok(_) => Outcome::Refused,
    }
}

/// What became of the samples the clients sent, from what the fake received.
struct Verdict {
    /// Samples by outcome: accepted, refused, unanswered; unanswered ones published.
    accepted: usize,
    refused: usize,
    no_answer: usize,
    no_answer_published: usize,
    /// Datums received again, identical (series, timestamp, values and counts): the window
    /// starts, with how many.
    duplicate_windows: BTreeMap<i64, usize>,
    /// Accepted samples never published.
    lost: Vec<u64>,
    /// Anything else wrong, each in words: a sample published twice other than in identical
    /// datums, a refused one published, one published in the wrong series or window, a value
    /// never sent, a series-window whose SampleCount or Sum differs from what was sent.
    problems: Vec<String>,
}

impl Verdict {
    fn judge(logs: &[ClientLog], requests: &[ReceivedRequest]) -> Verdict {
        let logs: HashMap<u32, &ClientLog> = logs.iter().map(|l| (l.client, l)).collect();
        let sample = |value: u64| {
            let log = logs.get(&((value >> 32) as u32))?;
            let s = *log.samples.get((value & 0xffff_ffff) as usize)?;
            Some((s, log.outcomes[s.request as usize]))
        };
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut duplicate_windows = BTreeMap::new();
        let mut published: HashMap<u64, f64> = HashMap::new();
        // SampleCount and Sum per series-window, as CloudWatch adds up the datums kept.
        let mut windows: HashMap<(String, i64), (f64, f64)> = HashMap::new();
        for datum in requests.iter().filter(|r| r.namespace == NAMESPACE).flat_map(|r| &r.datums) {
            let series = datum.dimensions.get("Series").cloned().unwrap_or_default();
            if datum.statistics.is_some() || datum.values.is_empty() {
                problems.push(format!("{series} at {}: not exact values: {datum:?}", datum.timestamp_ms));
                continue;
            }
            let count = |i: usize| datum.counts.get(i).copied().unwrap_or(1.0);
            let mut pairs: Vec<_> =
                (0..datum.values.len()).map(|i| (datum.values[i].to_bits(), count(i).to_bits())).collect();
            pairs.sort_unstable();
            if !seen.insert((datum.name.clone(), datum.dimensions.clone(), datum.timestamp_ms, pairs)) {
                *duplicate_windows.entry(datum.timestamp_ms).or_default() += 1;
                continue;
            }
            let window = windows.entry((series.clone(), datum.timestamp_ms)).or_default();
            for (i, v) in datum.values.iter().enumerate() {
                window.0 += count(i);
                window.1 += v * count(i);
                let value = *v as u64;
                match sample(value) {
                    Some((s, _)) if value as f64 == *v => {
                        if series_name(s.series) != series || s.window_ms != datum.timestamp_ms {
                            problems.push(format!(
                                "sample {value} of {} at {} published in {series} at {}",
                                series_name(s.series),
                                s.window_ms,
                                datum.timestamp_ms
                            ));
                        }
                        *published.entry(value).or_default() += count(i);
                    }
                    _ => problems.push(format!("{series} at {}: value {v} was never sent", datum.timestamp_ms)),
                }
            }
        }
        let (mut accepted, mut refused, mut no_answer, mut no_answer_published) = (0, 0, 0, 0);
        let mut lost = Vec::new();
        let mut expected: HashMap<(String, i64), (f64, f64)> = HashMap::new();
        for log in logs.values() {
            for (seq, s) in log.samples.iter().enumerate() {
                let value = sample_value(log.client, seq);
                let outcome = log.outcomes[s.request as usize];
                let times = published.get(&value).copied().unwrap_or(0.0);
                match outcome {
                    Outcome::Accepted => accepted += 1,
                    Outcome::Refused => refused += 1,
                    Outcome::NoAnswer => no_answer += 1,
                }
                match (outcome, times) {
                    (Outcome::Accepted, 0.0) => lost.push(value),
                    (Outcome::Accepted, 1.0) | (Outcome::NoAnswer, 0.0) | (Outcome::Refused, 0.0) => {}
                    (Outcome::NoAnswer, 1.0) => no_answer_published += 1,
                    (outcome, times) => problems.push(format!(
                        "sample {value} ({outcome:?}) of {} at {} published {times} times",
                        series_name(s.series),
                        s.window_ms
                    )),
                }
                if times > 0.0 || outcome == Outcome::Accepted {
                    let window = expected.entry((series_name(s.series), s.window_ms)).or_default();
                    window.0 += 1.0;
                    window.1 += value as f64;
                }
            }
        }
        // Integers below 2^53 add up exactly in any order: equality, not closeness.
        for (key, want) in &expected {
            let got = windows.get(key).copied().unwrap_or_default();
            if got != *want {
                problems.push(format!("{} at {}: SampleCount, Sum {got:?}, sent {want:?}", key.0, key.1));
            }
        }
        lost.sort_unstable();
        Verdict { accepted, refused, no_answer, no_answer_published, duplicate_windows, lost, problems }
    }

    /// One line of numbers, and the duplicates' windows relative to `reference_ms` (`reference`).
    fn print(&self, what: &str, reference: &str, reference_ms: i64) {
        println!(
            "{what}: samples accepted {}, refused {}, unanswered {} (published {}); lost {}; problems {}",
            self.accepted,
            self.refused,
            self.no_answer,
            self.no_answer_published,
            self.lost.len(),
            self.problems.len()
        );
        let dups: usize = self.duplicate_windows.values().sum();
        let windows: Vec<_> =
            self.duplicate_windows.iter().map(|(w, n)| format!("{:+}ms×{n}", w - reference_ms)).collect();
        println!("{what}: {dups} duplicate datums, windows (start relative to {reference}): {}", windows.join(" "));
    }

    /// Nothing accepted lost, and nothing else wrong.
    fn assert_sound(&self, what: &str) {
        let first = |v: &[String]| v.iter().take(10).cloned().collect::<Vec<_>>().join("\n");
        assert!(
            self.problems.is_empty(),
            "{what}: {} problems, the first:\n{}",
            self.problems.len(),
            first(&self.problems)
        );
        assert!(
            self.lost.is_empty(),
            "{what}: {} accepted samples lost, the first: {:?}",
            self.lost.len(),
            &self.lost[..self.lost.len().min(10)]
        );
    }
}

/// How far before a disruption (the kill, the start of an outage) a window may start and
/// still be in flight then: its 1 s, the 2 s grace, up to a 1 s flush interval, and 2 s for
/// publishing it and clearing it from the spool under load.
const IN_FLIGHT_MS: i64 = 6_000;

/// A kill -9 under load, the fake CloudWatch up or (`outage`) down from shortly before the
/// kill until after the restart.
async fn kill_9_under_load(test: &str, outage: bool) {
    let dir = SpoolDir::new(test);
    let fake = FakeCloudWatch::start().await;
    // The outage run acknowledges once written (fsync each second): a kill -9 loses nothing
    // either way.
    let args = dir.args(if outage { &["--spool-sync", "periodic"] } else { &[] });
    let sidecar = Sidecar::start(&fake, &args).await;
    let mut rng = seed(test);
    let load = Load::start(&sidecar.base, 4, &mut rng, Duration::ZERO);
    // Late enough that windows published well before it exist, and can be told from those in
    // flight at the kill.
    let until_kill = Duration::from_millis(rng.u64(7_000..10_000));
    let mut disruptions = Vec::new();
    if outage {
        let down_for = Duration::from_millis(rng.u64(1_000..2_000));
        sleep(until_kill - down_for).await;
        fake.stop();
        disruptions.push(now_ms());
        sleep(down_for).await;
    } else {
        sleep(until_kill).await;
    }
    let during = load.progress.line();
    let kill_ms = now_ms();
    disruptions.push(kill_ms);
    load.halt();
    sidecar.kill().await;
    let logs = load.stop().await;
    println!("{test}: killed after {until_kill:?}; {during}");

    let sidecar = Sidecar::start(&fake, &args).await;
    if outage {
        // Its flushes move what it replayed into batches, which fail to publish.
        sleep(Duration::from_millis(1_500)).await;
        fake.restart().await;
        let (status, counts) = sidecar.flush().await;
        assert_eq!(status, 200, "POST /v1/flush once the fake is back: {counts}");
    }
    let replayed = sidecar.metric("cw_sidecar_spool_replayed_total", "").await;
    let status = sidecar.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "SIGTERM after the restart: {status}");

    let verdict = Verdict::judge(&logs, &fake.requests());
    verdict.print(test, "the kill", kill_ms);
    println!("{test}: replayed {replayed} (records and datums)");
    assert!(verdict.accepted > 1_000, "{test}: the load ran ({} samples accepted)", verdict.accepted);
    verdict.assert_sound(test);
    let far: Vec<_> = verdict
        .duplicate_windows
        .keys()
        .filter(|&&w| !disruptions.iter().any(|&d| (d - IN_FLIGHT_MS..=d).contains(&w)))
        .map(|w| w - kill_ms)
        .collect();
    assert!(far.is_empty(), "{test}: duplicates of windows not in flight at the kill (ms from it): {far:?}");
}

// Both cores busy: no test that measures latency or memory runs meanwhile.

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    cpu_bound(kill_9_under_load("kill9", false));
}

#[test]
fn kill_9_during_an_outage_loses_nothing_acknowledged() {
    cpu_bound(kill_9_under_load("kill9-outage", true));
}

// Records of known content, and what the fake received of them.

/// A sample as published: metric, Series dimension, window start, value.
type Point = (String, String, i64, i64);

/// Records of metric `name`: for each window in `windows` (starts), one sample per series
/// in `series`, values counting up from `first_value`; their points.
fn records(
    name: &str,
    resolution: i64,
    windows: &[i64],
    series: Range<usize>,
    first_value: i64,
) -> (Value, Vec<Point>) {
    let mut records = Vec::new();
    let mut points = Vec::new();
    let mut value = first_value;
    for &window in windows {
        for s in series.clone() {
            records.push(json!({
                "name": name, "value": value, "dimensions": {"Series": series_name(s)},
                "storage_resolution": resolution, "timestamp": window,
            }));
            points.push((name.to_string(), series_name(s), window, value));
            value += 1;
        }
    }
    (json!(records), points)
}

/// Every point the fake received, with how many times.
fn published(fake: &FakeCloudWatch) -> BTreeMap<Point, f64> {
    let mut out = BTreeMap::new();
    for d in fake.datums(NAMESPACE) {
        assert!(d.statistics.is_none(), "exact values: {d:?}");
        let series = d.dimensions.get("Series").cloned().unwrap_or_default();
        for (i, v) in d.values.iter().enumerate() {
            let key = (d.name.clone(), series.clone(), d.timestamp_ms, *v as i64);
            *out.entry(key).or_default() += d.counts.get(i).copied().unwrap_or(1.0);
        }
    }
    out
}

/// Each of `expected` published exactly once, and nothing else.
fn assert_published_once(fake: &FakeCloudWatch, expected: &BTreeSet<Point>, what: &str) {
    let got = published(fake);
    let missing: Vec<_> = expected.iter().filter(|p| !got.contains_key(*p)).collect();
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n != 1.0).collect();
    let extra: Vec<_> = got.keys().filter(|p| !expected.contains(*p)).collect();
    let first = |n: usize| n.min(5);
    assert!(
        missing.is_empty() && twice.is_empty() && extra.is_empty(),
        "{what}: of {} expected, {} missing (first {:?}), {} published more than once (first {:?}), {} never sent (first {:?})",
        expected.len(),
        missing.len(),
        &missing[..first(missing.len())],
        twice.len(),
        &twice[..first(twice.len())],
        extra.len(),
        &extra[..first(extra.len())],
    );
}

/// The start of the 1 s window `seconds` (under 3,500) seconds after an hour ago: closed, so
/// the next flush takes it out of memory.
fn closed_second(now: i64, seconds: i64) -> i64 {
    assert!(seconds < 3_500);
    now - now % 60_000 - 3_600_000 + seconds * 1000
}

const REFUSED: &str = "cw_sidecar_requests_refused_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_run_after_a_clean_stop_accepted_survives_its_kill_9() {
    let dir = SpoolDir::new("clean-then-kill");
    let fake = FakeCloudWatch::start().await;
    let args = dir.args(&[]);
    let now = now_ms();
    let first = Sidecar::start(&fake, &args).await;
    let (body, mut expected) = records("First", 1, &[closed_second(now, 0)], 0..3, 0);
    assert_eq!(first.post_json(&body).await.unwrap().status(), 202);
    assert!(first.terminate(Duration::from_secs(10)).await.success(), "a clean stop");
    let second = Sidecar::start(&fake, &args).await;
    let (body, points) = records("Second", 1, &[closed_second(now, 1)], 0..3, 100);
    assert_eq!(second.post_json(&body).await.unwrap().status(), 202);
    expected.extend(points);
    second.kill().await;
    let third = Sidecar::start(&fake, &args).await;
    let replayed = third.metric("cw_sidecar_spool_replayed_total", "kind=\"records\"").await;
    assert!(third.terminate(Duration::from_secs(10)).await.success());
    assert_published_once(&fake, &expected.into_iter().collect(), &format!("replayed {replayed} records"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_memory_holds_is_spooled_to_disk() {
    // Six posts of 1,000 series-windows each, a flush between posts: three times the bound.
    const BOUND: &str = "2000";
    const POSTS: i64 = 6;
    let dir = SpoolDir::new("outage");
    let (fake, control_fake) = (FakeCloudWatch::start().await, FakeCloudWatch::start().await);
    fake.stop();
    control_fake.stop();
    let spooled = Sidecar::start(&fake, &dir.args(&["--max-buffered-datums", BOUND])).await;
    let control = Sidecar::start(&control_fake, &plain_args(&["--max-buffered-datums", BOUND])).await;
    let now = now_ms();
    let mut expected = BTreeSet::new();
    let (mut statuses, mut control_statuses) = (Vec::new(), Vec::new());
    for i in 0..POSTS {
        let windows: Vec<_> = (i * 10..i * 10 + 10).map(|s| closed_second(now, s)).collect();
        let (body, points) = records("Wide", 1, &windows, 0..100, i * 1000);
        let status = spooled.post_json(&body).await.unwrap().status().as_u16();
        if status == 202 {
            expected.extend(points);
        }
        statuses.push(status);
        if i < 3 {
            control_statuses.push(control.post_json(&body).await.unwrap().status().as_u16());
        }
        sleep(Duration::from_millis(1_300)).await; // at least one flush
    }
    // Without a spool, unpublished datums stay in memory: the third post does not fit.
    assert_eq!(control_statuses, [202, 202, 503], "without a spool");
    assert_eq!(control.metric(REFUSED, "reason=\"buffer_full\"").await, 1.0);
    control.kill().await;

    assert_eq!(statuses, [202; POSTS as usize], "with a spool nothing is refused");
    let metrics = spooled.metrics().await;
    assert_eq!(crate::helpers::metric_in(&metrics, REFUSED, ""), 0.0);
    assert!(crate::helpers::metric_in(&metrics, "cw_sidecar_spool_bytes", "") > 0.0, "{metrics}");
    assert!(!dir.files("batch-").is_empty(), "closed windows wait in batch files");
    assert!(fake.requests().is_empty());

    fake.restart().await;
    let status = spooled.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "SIGTERM once the fake is back: {status}");
    assert_published_once(&fake, &expected, "after the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_503_spool_full_and_drops_nothing() {
    const MAX_BYTES: &str = "1MiB";
    let dir = SpoolDir::new("full");
    let fake = FakeCloudWatch::start().await;
    fake.stop();
    let sidecar = Sidecar::start(&fake, &dir.args(&["--spool-max-bytes", MAX_BYTES])).await;
    let now = now_ms();
    let mut expected = BTreeSet::new();
    let mut refused = 0;
    let mut posts = 0;
    // 1,000 records a post, each a series-window of its own: 100 series × 10 windows.
    while refused < 2 {
        assert!(posts < 300, "{posts} posts of 1000 records into a spool of {MAX_BYTES}, none refused");
        let windows: Vec<_> = (posts * 10..posts * 10 + 10).map(|s| closed_second(now, s)).collect();
        let (body, points) = records("Full", 1, &windows, 0..100, posts * 1000);
        let r = sidecar.post_json(&body).await.unwrap();
        posts += 1;
        match r.status().as_u16() {
            202 => expected.extend(points),
            503 => {
                refused += 1;
                assert!(r.headers().contains_key("retry-after"), "{:?}", r.headers());
            }
            other => panic!("answered {other}: {}", r.text().await.unwrap()),
        }
    }
    let metrics = sidecar.metrics().await;
    let metric = |name, labels| crate::helpers::metric_in(&metrics, name, labels);
    assert_eq!(metric(REFUSED, "reason=\"spool_full\""), f64::from(refused), "{metrics}");
    assert_eq!(metric("cw_sidecar_spool_max_bytes", ""), 1024.0 * 1024.0, "{metrics}");
    // Once a flush has moved the log's windows into batch files, the spool is still within
    // its bound, by its own count and on disk.
    sleep(Duration::from_millis(2_500)).await;
    let (counted, on_disk) = (sidecar.metric("cw_sidecar_spool_bytes", "").await, dir.bytes());
    println!("full after {posts} posts: spool bytes {counted}, {on_disk} bytes of files after a flush");

    // Once CloudWatch is back, what was published leaves the spool, which takes records again.
    fake.restart().await;
    until("the spool to drain", async || sidecar.metric("cw_sidecar_spool_bytes", "").await < 512.0 * 1024.0).await;
    let (body, points) = records("Full", 1, &[closed_second(now, 0)], 100..110, 1_000_000);
    assert_eq!(sidecar.post_json(&body).await.unwrap().status(), 202, "accepted again once drained");
    expected.extend(points);
    let status = sidecar.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "SIGTERM: {status}");
    assert_published_once(&fake, &expected, "a full spool");
    let bound = 1024 * 1024;
    assert!(
        counted <= bound as f64 && on_disk <= bound,
        "the spool's bound is {bound} bytes; after a flush it counted {counted} and held {on_disk} bytes of files"
    );
}

// Damaged spool files.

/// The frames of a spool file, `[magic][len u32 LE][crc32 u32 LE][payload]` (the magic being
/// the file's first four bytes), as byte ranges, up to the first that does not fit.
fn frames(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() && bytes[at..at + 4] == bytes[..4] {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if at + 12 + len > bytes.len() {
            break;
        }
        out.push(at..at + 12 + len);
        at += 12 + len;
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Which of `names` each frame of each file holds: (file, frame, names).
fn frame_index(files: &[PathBuf], names: &[String]) -> Vec<(PathBuf, Range<usize>, Vec<String>)> {
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        for frame in frames(&bytes) {
            let held = names.iter().filter(|n| contains(&bytes[frame.clone()], n)).cloned().collect();
            out.push((file.clone(), frame, held));
        }
    }
    out
}

/// A name like `existing`'s (`wal-00…07.log`), its number 1000 higher: a segment or batch
/// file the sidecar reads.
fn sibling_name(existing: &Path) -> PathBuf {
    let name = existing.file_name().unwrap().to_str().unwrap();
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    let (start, end) =
        (name.find(|c: char| c.is_ascii_digit()).unwrap(), name.rfind(|c: char| c.is_ascii_digit()).unwrap());
    let number = digits.parse::<u64>().unwrap() + 1000;
    existing.with_file_name(format!("{}{number:0width$}{}", &name[..start], &name[end + 1..], width = digits.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_spool_files_are_skipped_and_counted() {
    let dir = SpoolDir::new("corrupt");
    let fake = FakeCloudWatch::start().await;
    fake.stop();
    let args = dir.args(&["--shutdown-timeout", "1s"]);
    let now = now_ms();
    let minute = now - now % 60_000;
    let mut points: BTreeMap<String, Vec<Point>> = BTreeMap::new();

    // A first run leaves batch files: closed windows (minutes ago), one post per flush.
    let first = Sidecar::start(&fake, &args).await;
    for i in 0..4 {
        let name = format!("Batched{i}");
        let (body, sent) = records(&name, 60, &[minute - (10 + i) * 60_000], 0..20, i * 100);
        assert_eq!(first.post_json(&body).await.unwrap().status(), 202);
        points.insert(name, sent);
        sleep(Duration::from_millis(1_300)).await;
    }
    until("four batch files", async || dir.files("batch-").len() >= 4).await;
    let _ = first.terminate(Duration::from_secs(15)).await; // cannot publish: the fake is down
    // A second run, killed, leaves write-ahead log segments: windows open for the next hour.
    let second = Sidecar::start(&fake, &args).await;
    for i in 0..5 {
        let name = format!("Logged{i}");
        let (body, sent) = records(&name, 60, &[minute + 3_600_000], 0..20, 1000 + i * 100);
        assert_eq!(second.post_json(&body).await.unwrap().status(), 202);
        points.insert(name, sent);
    }
    second.kill().await;

    let names: Vec<String> = points.keys().cloned().collect();
    let index = frame_index(&[dir.files("wal-"), dir.files("batch-")].concat(), &names);
    for name in &names {
        assert!(index.iter().any(|(_, _, held)| held.contains(name)), "{name} is in no frame of the spool: {index:?}");
    }
    // Bytes overwritten in the middle of a record of the log, with records after it.
    let (log, log_frame, _) = index
        .iter()
        .find(|(file, _, held)| dir.files("wal-").contains(file) && held == &["Logged2".to_string()])
        .expect("Logged2 in a frame of its own in a segment")
        .clone();
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = (log_frame.start + 12 + log_frame.end) / 2;
    for b in &mut bytes[middle - 4..middle + 4] {
        *b ^= 0xff;
    }
    std::fs::write(&log, &bytes).unwrap();
    // A batch file cut in the middle of its record.
    let (batch, batch_frame, _) = index
        .iter()
        .find(|(file, _, held)| dir.files("batch-").contains(file) && held.contains(&"Batched1".to_string()))
        .expect("Batched1 in a batch file")
        .clone();
    let file = std::fs::OpenOptions::new().write(true).open(&batch).unwrap();
    file.set_len(((batch_frame.start + 12 + batch_frame.end) / 2) as u64).unwrap();
    drop(file);
    // Garbage named like a segment and like a batch.
    let mut rng = fastrand::Rng::with_seed(7);
    for garbage in [sibling_name(&log), sibling_name(&batch)] {
        assert!(!garbage.exists(), "{}", garbage.display());
        std::fs::write(&garbage, std::iter::repeat_with(|| rng.u8(..)).take(4096).collect::<Vec<_>>()).unwrap();
    }
    // What survives: every name with a copy in a frame left whole.
    let damaged = |file: &PathBuf, f: &Range<usize>| {
        (file == &log && f.contains(&middle)) || (file == &batch && f.start >= batch_frame.start)
    };
    let survivors: BTreeSet<&String> =
        index.iter().filter(|(file, f, _)| !damaged(file, f)).flat_map(|(_, _, held)| held).collect();
    assert!(!survivors.contains(&"Logged2".to_string()) && !survivors.contains(&"Batched1".to_string()));
    let expected: BTreeSet<Point> = survivors.iter().flat_map(|name| points[*name].clone()).collect();

    fake.restart().await;
    let third = Sidecar::start(&fake, &args).await;
    let metrics = third.metrics().await;
    let metric = |labels| crate::helpers::metric_in(&metrics, "cw_sidecar_spool_damaged_total", labels);
    let spool_lines: Vec<_> = metrics.lines().filter(|l| l.starts_with("cw_sidecar_spool")).collect();
    println!("after the damage:\n{}", spool_lines.join("\n"));
    assert!(metric("reason=\"checksum\"") >= 1.0, "the overwritten record: {metrics}");
    assert!(metric("reason=\"torn_tail\"") >= 1.0, "the cut batch: {metrics}");
    assert!(metric("") >= 4.0, "and each garbage file: {metrics}");
    assert!(crate::helpers::metric_in(&metrics, "cw_sidecar_spool_skipped_bytes_total", "") > 0.0, "{metrics}");
    let status = third.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "SIGTERM after the damage: {status}");
    assert_published_once(&fake, &expected, "the records in undamaged frames");

    // Not a crash loop: it starts again, finds no damage left to count, and has nothing left
    // to publish.
    let before = fake.requests().len();
    let fourth = Sidecar::start(&fake, &args).await;
    let metrics = fourth.metrics().await;
    assert_eq!(crate::helpers::metric_in(&metrics, "cw_sidecar_spool_damaged_total", ""), 0.0, "{metrics}");
    let status = fourth.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "the start after: {status}");
    assert_eq!(fake.requests().len(), before, "everything was published by the run before");
}

// The soak run.

/// Reads `SOAK_MINUTES` (default 30).
fn soak_minutes() -> u64 {
    std::env::var("SOAK_MINUTES").map(|m| m.parse().expect("SOAK_MINUTES is whole minutes")).unwrap_or(30)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: runs SOAK_MINUTES (default 30) minutes; run by scripts/soak.sh"]
async fn soak_with_throttling_and_outages_loses_nothing() {
    let minutes = soak_minutes();
    let dir = SpoolDir::new("soak");
    let fake = FakeCloudWatch::start().await;
    let sidecar = Sidecar::start(&fake, &dir.args(&[])).await;
    let pid = sidecar.pid();
    println!("soak: {minutes} min");
    let mut rng = seed("soak");
    let load = Load::start(&sidecar.base, 2, &mut rng, Duration::from_millis(100));
    let started = Instant::now();
    let at = |what: &str| println!("soak {:>5.1} min: {what}", started.elapsed().as_secs_f64() / 60.0);
    let resources = async || {
        format!(
            "RSS {} MiB (peak {}), fds {}, spool {:.1} MiB",
            proc_status_kb(pid, "VmRSS") / 1024,
            proc_status_kb(pid, "VmHWM") / 1024,
            open_fds(pid),
            sidecar.metric("cw_sidecar_spool_bytes", "").await / 1048576.0,
        )
    };
    let end = started + Duration::from_secs(minutes * 60);
    let in_s = |rng: &mut fastrand::Rng, r: Range<u64>| Instant::now() + Duration::from_secs(rng.u64(r));
    // Each scripted throttle fails one request whatever the rate: a burst of a few, now and
    // then, as CloudWatch throttles a sender that goes too fast.
    let (mut next_report, mut next_throttle, mut next_outage) =
        (Instant::now(), in_s(&mut rng, 45..90), in_s(&mut rng, 120..240));
    let mut outage_ends: Option<Instant> = None;
    let (mut outages, mut throttles) = (0, 0);
    while Instant::now() < end {
        let now = Instant::now();
        if outage_ends.is_some_and(|t| now >= t) {
            fake.restart().await;
            outage_ends = None;
            at("outage over");
        }
        if outage_ends.is_none() && now >= next_outage {
            fake.stop();
            let down = rng.u64(20..90);
            at(&format!("outage of {down}s"));
            (outage_ends, next_outage, outages) =
                (Some(now + Duration::from_secs(down)), in_s(&mut rng, 180..300), outages + 1);
        }
        if now >= next_throttle {
            fake.script(vec![Fault::Throttle; rng.usize(3..=10)]);
            (next_throttle, throttles) = (in_s(&mut rng, 45..90), throttles + 1);
        }
        if now >= next_report {
            at(&format!("{}; {}; PutMetricData received {}", resources().await, load.progress.line(), fake.attempts()));
            next_report += Duration::from_secs(60);
        }
        sleep(Duration::from_secs(1)).await;
    }
    fake.restart().await;
    let logs = load.stop().await;
    at(&format!("load stopped; {}; {outages} outages, {throttles} throttling bursts", resources().await));
    // What the spool holds drains before the SIGTERM, whose wait is bounded.
    let draining = Instant::now();
    let mut next_report = draining + Duration::from_secs(30);
    while sidecar.metric("cw_sidecar_spool_bytes", "").await > 0.0 && draining.elapsed() < Duration::from_secs(600) {
        sleep(Duration::from_secs(1)).await;
        if Instant::now() >= next_report {
            at(&format!("draining; {}", resources().await));
            next_report += Duration::from_secs(30);
        }
    }
    at(&format!("drained in {:.0?}; {}", draining.elapsed(), resources().await));
    let status = sidecar.terminate(Duration::from_secs(300)).await;
    let verdict = Verdict::judge(&logs, &fake.requests());
    verdict.print("soak", "the end", now_ms());
    assert!(status.success(), "SIGTERM at the end: {status}");
    verdict.assert_sound("soak");
}
