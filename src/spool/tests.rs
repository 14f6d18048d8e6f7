//! The spool with a real pipeline, outbox and flusher on a manual clock: what a crash leaves
//! is replayed exactly once, damage is skipped and counted, a full spool refuses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::clock::ManualClock;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::engine::Engine;
use crate::flush::Flusher;
use crate::publish::outbox::Next;
use crate::test_support::TempDir;
use cw_core::ingest::json::BodyKind;
use cw_core::ingest::json::submit::submit_body;
use cw_core::pipeline::{Input, Refusal};
use cw_core::publish::datum::DatumValues;

/// A minute boundary, plus 10 s.
const T0: i64 = 1_700_000_040_000;

struct Run {
    spool: Arc<Spool>,
    flusher: Flusher,
    telemetry: Arc<Telemetry>,
}

/// A sidecar's insides on the spool in `dir`, after replaying it.
fn start(dir: &Path, clock: &Arc<ManualClock>, max_bytes: usize) -> Run {
    let telemetry = Arc::new(Telemetry::default());
    let config = Config {
        namespace: Some("T".into()),
        max_buffered_datums: 1_000_000,
        flush_interval: Duration::from_secs(1),
        max_put_requests_per_second: 100,
        self_metrics_namespace: String::new(),
        shutdown_timeout: Duration::from_secs(1),
        spool: SpoolConfig { dir: Some(dir.into()), max_bytes, ..Default::default() },
        ..Config::default()
    };
    let clock: SharedClock = clock.clone();
    let engine = Engine::assemble(&config, &telemetry, &clock, None).unwrap();
    let (spool, flusher) = (engine.spool.unwrap(), Arc::into_inner(engine.flusher).unwrap());
    Run { spool, flusher, telemetry }
}

impl Run {
    /// Posts `(name, value, timestamp)` records (high resolution: 1 s windows); the answer
    /// once durable.
    async fn post(&self, records: &[(&str, f64, i64)]) -> Result<usize, Refusal> {
        let body: Vec<_> = records
            .iter()
            .map(|(n, v, t)| json!({"name": n, "value": v, "timestamp": t, "storage_resolution": 1}))
            .collect();
        let body = serde_json::to_vec(&body).unwrap();
        let finished = submit_body(&self.flusher.pipeline, Input::HTTP, &body, BodyKind::Json).unwrap();
        finished.durable().await.map(|a| a.accepted)
    }

    /// Everything the outbox would send now, as CloudWatch accepting it: (name, timestamp)
    /// → (count, sum) per datum.
    fn publish(&self) -> Vec<Point> {
        let mut out = Vec::new();
        while let Next::Ready(attempt) = self.flusher.outbox.take_ready() {
            for d in &attempt.batch().metric_data {
                let DatumValues::Distribution { values, counts } = &d.values else { panic!("{d:?}") };
                let sum = values.iter().zip(counts).map(|(v, c)| v * c).sum();
                out.push(((d.metric_name.clone(), d.timestamp), (counts.iter().sum(), sum)));
            }
            self.flusher.outbox.succeeded(attempt);
        }
        out
    }

    /// A crash after everything handed to the log was written: no final flush.
    async fn crash(self) {
        self.spool.barrier().await;
        self.spool.stop();
    }

    fn metric(&self, name: &str) -> String {
        let text = self.telemetry.encode();
        text.lines().filter(|l| l.starts_with(name)).collect::<Vec<_>>().join("\n")
    }
}

/// (name, window start) → (count, sum).
type Point = ((String, i64), (f64, f64));

/// Count and sum per (name, window start) of what was published.
fn totals(published: &[Point]) -> BTreeMap<(String, i64), (f64, f64)> {
    let mut out: BTreeMap<_, (f64, f64)> = BTreeMap::new();
    for (k, (c, s)) in published {
        let e = out.entry(k.clone()).or_default();
        e.0 += c;
        e.1 += s;
    }
    out
}

fn files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut f: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    f.sort();
    f
}

#[tokio::test]
async fn a_crash_replays_what_was_acknowledged_once_whether_or_not_it_was_published() {
    for published_before_crash in [false, true] {
        let dir = TempDir::new(&format!("spool-crash-{published_before_crash}"));
        let clock = ManualClock::new(T0);
        let run = start(dir.path(), &clock, 1 << 30);
        assert_eq!(run.post(&[("a", 1.0, T0 - 5_000), ("a", 2.0, T0 - 5_000), ("b", 5.0, T0)]).await, Ok(3));
        // The window of `a` ended 5 s ago: this flush puts it in a batch file, `b` stays open.
        run.flusher.flush(false, None);
        let first = if published_before_crash { run.publish() } else { vec![] };
        assert_eq!(run.post(&[("a", 4.0, T0 - 5_000), ("b", 6.0, T0)]).await, Ok(2), "a late record too");
        run.crash().await;

        clock.advance(Duration::from_secs(3));
        let run = start(dir.path(), &clock, 1 << 30);
        run.flusher.flush(true, None);
        let mut all = first;
        all.extend(run.publish());
        let want = BTreeMap::from([(("a".to_string(), T0 - 5_000), (3.0, 7.0)), (("b".to_string(), T0), (2.0, 11.0))]);
        assert_eq!(totals(&all), want, "published before the crash: {published_before_crash}");
        assert!(
            run.metric("cw_sidecar_spool_replayed_total").contains("records\"} 3"),
            "{}",
            run.metric("cw_sidecar_spool_replayed")
        );
        run.spool.stop();
        assert!(
            files(dir.path(), "wal-").is_empty() && files(dir.path(), "batch-").is_empty(),
            "all published, nothing left"
        );
        assert_eq!(run.spool.used(), 0);
    }
}

#[tokio::test]
async fn what_a_run_after_a_clean_stop_accepted_survives_its_crash() {
    let dir = TempDir::new("spool-after-clean-stop");
    let clock = ManualClock::new(T0);
    for _ in 0..3 {
        let run = start(dir.path(), &clock, 1 << 30);
        assert_eq!(run.post(&[("a", 1.0, T0)]).await, Ok(1));
        run.flusher.flush(true, None);
        run.publish();
        run.spool.stop();
    }
    // The checkpoint now covers every window of the segments the runs used.
    let run = start(dir.path(), &clock, 1 << 30);
    assert_eq!(run.post(&[("b", 2.0, T0)]).await, Ok(1));
    run.crash().await;
    let run = start(dir.path(), &clock, 1 << 30);
    run.flusher.flush(true, None);
    assert_eq!(totals(&run.publish()), BTreeMap::from([(("b".to_string(), T0), (1.0, 2.0))]));
}

#[tokio::test]
async fn what_cloudwatch_did_not_take_before_shutdown_waits_in_batch_files_for_the_next_start() {
    let dir = TempDir::new("spool-outage");
    let clock = ManualClock::new(T0);
    let run = start(dir.path(), &clock, 1 << 30);
    let records: Vec<(String, f64, i64)> = (0..50).map(|i| (format!("m{i}"), i as f64, T0)).collect();
    let records: Vec<(&str, f64, i64)> = records.iter().map(|(n, v, t)| (n.as_str(), *v, *t)).collect();
    assert_eq!(run.post(&records).await, Ok(50));
    run.flusher.flush(true, None);
    // Nothing published (an outage), and the buffer holds none of it: it is on disk.
    assert_eq!(run.flusher.pipeline.buffer().used(), 0);
    assert_eq!(run.flusher.outbox.stored(), (50, 1));
    run.spool.stop();
    assert_eq!((files(dir.path(), "wal-").len(), files(dir.path(), "batch-").len()), (0, 1));
    let config = SpoolConfig { dir: Some(dir.path().into()), ..Default::default() };
    let e = Spool::open(&config, "", run.telemetry.clone()).err().unwrap().to_string();
    let lock = dir.path().join("lock");
    assert!(e.contains(&format!("the lock file {} is held by another sidecar", lock.display())), "{e}");
    drop(run);

    let run = start(dir.path(), &clock, 1 << 30);
    let published = totals(&run.publish());
    assert_eq!(published.len(), 50);
    assert_eq!(published[&("m7".to_string(), T0)], (1.0, 7.0));
    assert!(run.metric("cw_sidecar_spool_replayed_total").contains("datums\"} 50"));
    assert!(files(dir.path(), "batch-").is_empty());
}

#[tokio::test]
async fn damaged_files_lose_only_their_damaged_frames_and_are_counted() {
    let dir = TempDir::new("spool-damage");
    let clock = ManualClock::new(T0);
    let run = start(dir.path(), &clock, 1 << 30);
    for (i, name) in ["one", "two", "three"].into_iter().enumerate() {
        assert_eq!(run.post(&[(name, i as f64 + 1.0, T0)]).await, Ok(1));
    }
    run.crash().await;
    let segment = files(dir.path(), "wal-").pop().unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    let frame_len = bytes.len() / 3 - 1; // "one" is a byte shorter than "three"
    bytes[frame_len + 20] ^= 0x55; // inside the second frame
    bytes.extend_from_within(..7); // a torn last write
    fs::write(&segment, &bytes).unwrap();
    fs::write(dir.path().join("batch-00000000000000000007.bin"), b"not a batch at all").unwrap();
    fs::write(dir.path().join("notes.txt"), b"someone else's").unwrap();

    for restart in 0..2 {
        let run = start(dir.path(), &clock, 1 << 30);
        if restart == 0 {
            let damaged = run.metric("cw_sidecar_spool_damaged_total");
            assert!(damaged.contains("checksum\"} 2") && damaged.contains("torn_tail\"} 1"), "{damaged}");
            assert!(!run.metric("cw_sidecar_spool_skipped_bytes_total").ends_with(" 0"));
            run.flusher.flush(true, None);
            let names: Vec<String> = totals(&run.publish()).into_keys().map(|(n, _)| n).collect();
            assert_eq!(names, ["one", "three"], "the frame after the damaged one is kept");
        } else {
            // Nothing was left to count again, and nothing crashed.
            assert!(run.metric("cw_sidecar_spool_damaged_total").lines().all(|l| l.ends_with(" 0")));
        }
        run.spool.stop();
    }
    assert!(dir.path().join("notes.txt").exists(), "a file that is not the spool's is left alone");
}

#[tokio::test]
async fn a_full_spool_refuses_until_publishing_frees_it() {
    let dir = TempDir::new("spool-full");
    let clock = ManualClock::new(T0);
    let run = start(dir.path(), &clock, 1 << 20);
    let names: Vec<String> = (0..2000).map(|i| format!("series-{i}")).collect();
    let mut accepted = 0;
    let refusal = loop {
        let records: Vec<(&str, f64, i64)> = names.iter().map(|n| (n.as_str(), 1.0, T0)).collect();
        match run.post(&records).await {
            Ok(n) => accepted += n,
            Err(r) => break r,
        }
        assert!(accepted < 1_000_000, "never refused");
    };
    assert!(matches!(refusal, Refusal::SpoolFull { max: 1048576, .. }), "{refusal:?}");
    assert!(run.spool.used() <= 1 << 20);
    assert!(run.metric("cw_sidecar_requests_refused_total{reason=\"spool_full\"}").ends_with(" 1"));
    run.flusher.flush(true, None);
    assert!(run.spool.used() <= 1 << 20, "batches that do not fit wait in memory");
    assert!(run.flusher.outbox.unstored() > 0);
    let published = totals(&run.publish());
    assert_eq!(published.values().map(|(c, _)| c).sum::<f64>(), accepted as f64, "everything accepted is published");
    // The log was kept while batches were only in memory; the next flush lets it go.
    run.spool.barrier().await;
    assert!(run.spool.used() > 0);
    run.flusher.flush(true, None);
    run.spool.barrier().await;
    assert_eq!(run.spool.used(), 0, "the log's segments and the batch files are gone");
    assert_eq!(run.post(&[("again", 1.0, T0)]).await, Ok(1));
    run.spool.stop();
}

#[tokio::test]
async fn a_stored_batch_that_loses_expired_datums_is_rewritten_with_the_rest() {
    let dir = TempDir::new("spool-expire");
    let clock = ManualClock::new(T0);
    let run = start(dir.path(), &clock, 1 << 30);
    let old = T0 - crate::publish::outbox::MAX_DATUM_AGE_MS + 60_000;
    assert_eq!(run.post(&[("old", 1.0, old), ("new", 2.0, T0)]).await, Ok(2));
    run.flusher.flush(true, None);
    assert_eq!(run.flusher.outbox.stored(), (2, 1));
    clock.advance(Duration::from_secs(120));
    let Next::Ready(attempt) = run.flusher.outbox.take_ready() else { panic!("a batch is ready") };
    let attempt = run.flusher.outbox.expire(attempt).expect("one datum is left");
    run.flusher.outbox.retry_later(attempt, Duration::ZERO);
    let published = run.publish();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, ("new".to_string(), T0));
    assert!(run.metric("cw_sidecar_datums_dropped_total{reason=\"expired\"}").ends_with(" 1"));
    run.spool.stop();
    assert!(files(dir.path(), "batch-").is_empty());
}
