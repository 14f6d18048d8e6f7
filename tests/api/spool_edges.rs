//! The spool's rough edges (issue 25, finding 10): the self metrics keep a reserve that
//! ingest cannot take; files deleted from outside give their room back; a deleted directory
//! is made again; a second sidecar on one directory is told about the lock.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{Stats, metric_in, sidecar_command, until};
use crate::limited::{Limited, free_port};

/// A directory of the test's own under the temp dir, removed at the end unless it failed.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        Dir(std::env::temp_dir().join(format!("cw-sidecar-edges-{test}-{}-{nanos}", std::process::id())))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The spool's files (log segments and batch files).
    fn spool_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.0) else {
            return Vec::new();
        };
        let names = entries.map(|e| e.unwrap().path());
        names.filter(|p| is_spool_file(p)).collect()
    }
}

fn is_spool_file(p: &Path) -> bool {
    let name = p.file_name().unwrap().to_string_lossy();
    name.starts_with("wal-") || name.starts_with("batch-")
}

impl Drop for Dir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("spool directory kept: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A sidecar on `dir` listening on `api`, 1 s flushes, a 1 MiB spool.
async fn start(fake: &FakeCloudWatch, api: &str, dir: &Dir, self_metrics: &str) -> Limited {
    let args = [
        "--listen",
        api,
        "--namespace",
        "Edges",
        "--self-metrics-namespace",
        self_metrics,
        "--flush-interval",
        "1s",
        "--max-buffered-datums",
        "1000000",
        "--spool-dir",
        dir.path(),
        "--spool-max-bytes",
        "1MiB",
        // Series of their own by the thousand: the spool's bound is tested, not the budget's.
        "--cardinality-enabled",
        "false",
    ];
    Limited::start(4096, Some(fake), &args).await
}

/// Posts `n` records of series of their own, numbered from `from`; the status.
async fn post(http: &reqwest::Client, api: &str, from: usize, n: usize) -> u16 {
    let body: Vec<Value> = (from..from + n).map(|i| json!({"name": format!("m{i}"), "value": 1})).collect();
    http.post(format!("http://{api}/v1/metrics")).json(&body).send().await.unwrap().status().as_u16()
}

async fn metric(http: &reqwest::Client, api: &str, name: &str, labels: &str) -> f64 {
    let text = http.get(format!("http://{api}/metrics")).send().await.unwrap().text().await.unwrap();
    metric_in(&text, name, labels)
}

/// Posts 1,000 records at a time until the spool refuses them (spool_full), then 100, 10 and
/// 1 at a time, until not even one record fits; how many posts were taken.
async fn fill(http: &reqwest::Client, api: &str) -> usize {
    let (mut taken, mut next) = (0, 0);
    for size in [1000, 100, 10, 1] {
        loop {
            assert!(taken < 2000, "{taken} posts into a spool of 1MiB, none refused");
            next += size;
            match post(http, api, next, size).await {
                202 => taken += 1,
                503 => break,
                other => panic!("answered {other}"),
            }
        }
    }
    let full = metric(http, api, "cw_sidecar_requests_refused_total", "reason=\"spool_full\"").await;
    assert!(full >= 4.0, "refused, but not for a full spool");
    taken
}

/// Before, every flush's self metrics were refused with an ERROR while clients had filled the
/// spool: `Heartbeat` and `BufferedDatums` went missing exactly then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_metrics_are_recorded_while_ingest_has_filled_the_spool() {
    let (fake, dir, api) = (FakeCloudWatch::start().await, Dir::new("reserve"), format!("127.0.0.1:{}", free_port()));
    fake.stop();
    let sidecar = start(&fake, &api, &dir, "CWSidecar").await;
    let http = reqwest::Client::new();
    let posts = fill(&http, &api).await;
    // Four flushes while the spool stays full for ingest.
    tokio::time::sleep(Duration::from_millis(4_200)).await;
    assert_eq!(post(&http, &api, 10_000_000, 1000).await, 503, "still full for ingest");
    let refused = sidecar.lines_with("self metrics refused");
    assert!(refused.is_empty(), "after {posts} posts: {refused:?}");
    fake.restart().await;
    // Shutdown publishes everything, the open minute's self metrics included: a heartbeat for
    // every flush, those while the spool was full too.
    let started = sidecar.started();
    sidecar.stop().await;
    let datums = fake.datums("CWSidecar");
    let heartbeats = Stats::of_datums(datums.iter().filter(|d| d.name == "Heartbeat")).count;
    let seconds = started.elapsed().as_secs_f64();
    println!("{heartbeats} heartbeats over {seconds:.1}s of 1s flushes");
    assert!(heartbeats >= seconds - 2.0, "{heartbeats} heartbeats over {seconds:.1}s");
}

/// Before, deleting the spool's files while it ran gave nothing back: it kept counting
/// 2,097,122 bytes against 12,732 on disk, and refused ingest, until restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_spool_files_gives_their_room_back() {
    let (fake, dir, api) = (FakeCloudWatch::start().await, Dir::new("deleted"), format!("127.0.0.1:{}", free_port()));
    fake.stop();
    let sidecar = start(&fake, &api, &dir, "").await;
    let http = reqwest::Client::new();
    fill(&http, &api).await;
    let counted = metric(&http, &api, "cw_sidecar_spool_bytes", "").await;
    assert!(counted > 900_000.0, "{counted}");
    for file in dir.spool_files() {
        std::fs::remove_file(file).unwrap();
    }
    until("ingest to be taken again", async || post(&http, &api, 20_000_000, 10).await == 202).await;
    let counted = metric(&http, &api, "cw_sidecar_spool_bytes", "").await;
    let on_disk: u64 = dir.spool_files().iter().map(|f| f.metadata().map_or(0, |m| m.len())).sum();
    println!("after deleting the files: {counted} bytes counted, {on_disk} on disk");
    assert!(counted < 100_000.0, "the count follows the files: {counted} counted, {on_disk} on disk");
    fake.restart().await;
    sidecar.stop().await;
}

/// Before, a deleted spool directory made every request 503 until restart, while `/readyz`
/// stayed 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_spool_directory_is_made_again_and_ingest_goes_on() {
    let (fake, dir, api) = (FakeCloudWatch::start().await, Dir::new("vanished"), format!("127.0.0.1:{}", free_port()));
    let sidecar = start(&fake, &api, &dir, "").await;
    let http = reqwest::Client::new();
    assert_eq!(post(&http, &api, 0, 10).await, 202);
    std::fs::remove_dir_all(&dir.0).unwrap();
    // Three seconds of posts: three flushes seal segments and write batch files meanwhile.
    for i in 0..15 {
        assert_eq!(post(&http, &api, 100 + i * 10, 10).await, 202, "post {i} after the directory was deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(dir.0.join("lock").is_file(), "made again with its lock");
    assert!(!dir.spool_files().is_empty(), "a fresh segment");
    let warned = sidecar.lines_with("spool directory was deleted");
    assert!(!warned.is_empty(), "said so");
    // The lock is held again: a second sidecar is refused.
    let second = second_sidecar(&dir);
    assert!(second.contains("is held by another sidecar"), "{second}");
    sidecar.stop().await;
    let published: usize = fake.datums("Edges").len();
    assert_eq!(published, 160, "every record published");
}

/// A second sidecar on `dir`, in dry-run: it must fail to start; its stderr.
fn second_sidecar(dir: &Dir) -> String {
    let out = sidecar_command()
        .args(["--dry-run", "--listen", "127.0.0.1:0", "--namespace", "Second", "--spool-dir", dir.path()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a second sidecar on one spool directory started");
    String::from_utf8(out.stderr).unwrap()
}

/// Before, the second sidecar said "cannot listen on …", though the cause was the lock.
#[tokio::test]
async fn a_second_sidecar_on_one_spool_directory_is_told_the_lock_is_held() {
    let (fake, dir, api) = (FakeCloudWatch::start().await, Dir::new("lock"), format!("127.0.0.1:{}", free_port()));
    let sidecar = start(&fake, &api, &dir, "").await;
    let err = second_sidecar(&dir);
    let lock = dir.0.join("lock");
    assert!(err.contains(&format!("the lock file {} is held by another sidecar", lock.display())), "{err}");
    assert!(!err.contains("cannot listen"), "{err}");
    sidecar.stop().await;
}
