//! The optional disk spool: what was acknowledged survives a crash of the sidecar, and an
//! outage is bounded by the disk instead of memory.
//!
//! Two kinds of files, both made of checksummed frames (the core's `spool::frame`):
//! - the write-ahead log ([`wal`]): each accepted submission's records, written (and, under
//!   `sync = always`, fsynced, many submissions per fsync) before the client is answered;
//! - batch files: one per PutMetricData batch, written when a flush turns closed windows into
//!   batches, deleted when CloudWatch accepts the batch (or it is dropped, counted).
//!
//! A flush seals the log's segment, drains the closed windows, writes their batches, and then
//! deletes the sealed segments whose windows it drained: every record is on disk either in the
//! log or in a batch file until CloudWatch has it. A start replays both ([`replay`]).
//!
//! The spool is reached through the traits of its users: the pipeline's
//! [`Journal`](cw_core::pipeline::admission::Journal) and the outbox's [`BatchStore`].

mod disk;
mod replay;
mod wal;

use std::fs;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use cw_core::pipeline::Admission;
use cw_core::pipeline::admission::journal::Then;
use cw_core::pipeline::admission::{Journal, JournalEntry, JournalFull};
use cw_core::pipeline::records::Records;
use cw_core::publish::batch::Batch;
use cw_core::reasons::SpoolOp;
use cw_core::spool::{codec, frame};

pub use replay::{Replayed, Resume};

use crate::config::SpoolConfig;
use crate::publish::store::{BatchFile, BatchStore};
use crate::telemetry::Telemetry;
use disk::{Disk, Room, batch_path, lock};

/// Submissions queued for the log at most; a submitter waits beyond (the disk is slower than
/// ingest).
const QUEUE: usize = 4096;

pub struct Spool {
    disk: Arc<Disk>,
    next_batch: AtomicU64,
    log: Mutex<Option<SyncSender<wal::Msg>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Batches of this namespace may take the self metrics' reserve.
    self_metrics: Arc<str>,
}

impl Spool {
    /// Opens (or makes) the spool directory and reads what an earlier run left there; the log's
    /// thread starts with [`Spool::start`] once the replay is done.
    /// `self_metrics` is their namespace: their records and batches may take the room ingest
    /// cannot.
    pub(crate) fn open(
        config: &SpoolConfig,
        self_metrics: &str,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<Option<(Arc<Spool>, Replayed)>> {
        let Some(dir) = &config.dir else {
            return Ok(None);
        };
        fs::create_dir_all(dir)?;
        // Fails early, at start, when the directory cannot be written or another sidecar
        // uses it.
        let lock = lock(dir)?;
        let disk = Arc::new(Disk::new(dir.clone(), config.max_bytes as u64, config.sync, telemetry, lock));
        let replayed = replay::read(&disk)?;
        let spool = Arc::new(Spool {
            next_batch: AtomicU64::new(replayed.next_batch),
            disk,
            log: Mutex::new(None),
            thread: Mutex::new(None),
            self_metrics: Arc::from(self_metrics),
        });
        Ok(Some((spool, replayed)))
    }

    /// The batch files a start found, for the outbox.
    pub(crate) fn replayed_batches(&self, replayed: &mut Replayed) -> Vec<(BatchFile, usize)> {
        replayed.take_batches(&self.disk)
    }

    /// Hands the log's records to `restore` (see [`Replayed::records`]), reading `window`
    /// bytes of a segment at a time, then starts the log's thread after the segments read.
    pub(crate) fn replay_records(
        self: &Arc<Self>,
        replayed: Replayed,
        now_ms: i64,
        window: usize,
        restore: impl FnMut(&[u8], i64, cw_core::domain::payload::Payload) -> i64,
    ) {
        let resume = replayed.records(&self.disk, now_ms, window, restore);
        self.start(resume);
    }

    fn start(self: &Arc<Self>, resume: Resume) {
        let (tx, rx) = sync_channel(QUEUE);
        let writer = wal::Writer::new(self.disk.clone(), resume.next_segment, resume.sealed);
        let thread = std::thread::Builder::new().name("cw-sidecar-spool".into()).spawn(move || writer.run(rx));
        match thread {
            Ok(thread) => {
                *self.log.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
                *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
            }
            // Without its thread the log takes nothing: every append fails, and is refused.
            Err(e) => self.disk.failed(SpoolOp::Write, &e),
        }
    }

    /// Stops the log's thread once it has handled what is queued (deletions included), and
    /// waits for it.
    pub(crate) fn stop(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }

    fn send(&self, msg: wal::Msg) -> bool {
        self.try_send(msg).is_ok()
    }

    fn try_send(&self, msg: wal::Msg) -> Result<(), wal::Msg> {
        let tx = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match tx {
            Some(tx) => tx.send(msg).map_err(|e| e.0),
            None => Err(msg),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.disk.dir
    }

    pub fn used(&self) -> u64 {
        self.disk.used()
    }

    /// Seals the log's segment (after everything queued before is aggregated); the id below
    /// which every segment is sealed.
    pub(crate) fn seal(&self) -> Option<u64> {
        let (tx, rx) = sync_channel(1);
        self.send(wal::Msg::Seal(tx)).then(|| rx.recv().ok()).flatten()
    }

    /// The windows that ended by `end_ms` are in batch files now: sealed segments below
    /// `below` that hold nothing later are deleted.
    pub(crate) fn covered(&self, below: u64, end_ms: i64) {
        self.send(wal::Msg::Covered { below, end_ms });
    }

    /// Resolves once everything handed to the log before is durable (and aggregated).
    pub async fn barrier(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.send(wal::Msg::Barrier(tx)) {
            let _ = rx.await;
        }
    }
}

/// The pipeline logs accepted records here before it aggregates them.
impl Journal for Spool {
    fn prepare(&self, records: &Records) -> Result<JournalEntry, JournalFull> {
        let mut log = codec::LogRecord::with_capacity(records.len());
        for (key, window, payload) in records.iter() {
            log.push(key, window, payload);
        }
        let entries = log.finish();
        let mut bytes = Vec::with_capacity(entries.len() + 16);
        frame::push_frame(&mut bytes, &entries);
        let room = match records.input.admission {
            Admission::Internal => Room::SelfMetrics,
            Admission::Bounded => Room::Ingest,
        };
        self.disk.try_reserve(bytes.len() as u64, room)?;
        self.disk.queue(bytes.len() as u64);
        Ok(JournalEntry { bytes, max_end_ms: records.max_window_end() })
    }

    fn append(&self, entry: JournalEntry, then: Then) {
        let n = entry.bytes.len() as u64;
        if let Err(wal::Msg::Append(a)) = self.try_send(wal::Msg::Append(wal::Append { entry, then })) {
            self.disk.unqueue(n);
            self.disk.release(n);
            (a.then)(false);
        }
    }

    fn barrier(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(Spool::barrier(self))
    }
}

/// The outbox keeps batches in files here until their attempt.
impl BatchStore for Spool {
    fn write_batch(&self, batch: &Batch) -> std::io::Result<BatchFile> {
        let mut bytes = Vec::new();
        frame::push_frame(&mut bytes, &codec::encode_batch(batch));
        let n = bytes.len() as u64;
        let room = match *batch.namespace == *self.self_metrics && !self.self_metrics.is_empty() {
            true => Room::SelfMetrics,
            false => Room::Ingest,
        };
        if let Err(JournalFull { used, max }) = self.disk.try_reserve(n, room) {
            let why = format!("spool full: {used} of {max} bytes in use, a batch file needs {n}");
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, why));
        }
        let seq = self.next_batch.fetch_add(1, Ordering::AcqRel);
        let path = batch_path(&self.disk.dir, seq);
        if let Err(e) = self.disk.write_file(&path, &bytes) {
            self.disk.release(n);
            return Err(e);
        }
        Ok(BatchFile { path, bytes: n })
    }

    fn read_batch(&self, file: &BatchFile) -> Option<Batch> {
        let bytes = fs::read(&file.path).map_err(|e| self.disk.failed(SpoolOp::Read, &e)).ok()?;
        frame::single(&bytes).and_then(codec::decode_batch)
    }

    fn remove_batch(&self, file: &BatchFile) {
        self.disk.remove_file(&file.path, file.bytes);
    }

    fn sync(&self) {
        self.disk.sync_dir();
    }
}

#[cfg(test)]
mod tests;
