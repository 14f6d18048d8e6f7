//! The optional disk spool: what was acknowledged survives a crash of the sidecar, and an
//! outage is bounded by the disk instead of memory.
//!
//! Two kinds of files, both made of checksummed frames ([`frame`]):
//! - the write-ahead log ([`wal`]): each accepted submission's records, written (and, under
//!   `sync = always`, fsynced, many submissions per fsync) before the client is answered;
//! - batch files: one per PutMetricData batch, written when a flush turns closed windows into
//!   batches, deleted when CloudWatch accepts the batch (or it is dropped, counted).
//!
//! A flush seals the log's segment, drains the closed windows, writes their batches, and then
//! deletes the sealed segments whose windows it drained: every record is on disk either in the
//! log or in a batch file until CloudWatch has it. A start replays both ([`replay`]).

mod replay;
pub(crate) mod wal;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use crate::config::{SpoolConfig, SyncPolicy};
use crate::telemetry::Telemetry;
use cw_core::publish::batch::Batch;
use cw_core::reasons::SpoolOp;
use cw_core::spool::{codec, frame};

pub use replay::Replayed;

/// Submissions queued for the log at most; a submitter waits beyond (the disk is slower than
/// ingest).
const QUEUE: usize = 4096;

/// A batch file: where it is and what it costs the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFile {
    pub path: PathBuf,
    pub bytes: u64,
}

/// The spool has no room for a record; nothing was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolFull {
    pub used: u64,
    pub max: u64,
}

pub struct Spool {
    dir: PathBuf,
    max: u64,
    used: AtomicU64,
    sync: SyncPolicy,
    next_batch: AtomicU64,
    log: Mutex<Option<SyncSender<wal::Msg>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held while the spool is open: one process per directory.
    _lock: File,
    telemetry: Arc<Telemetry>,
}

impl Spool {
    /// Opens (or makes) the spool directory and reads what an earlier run left there; the log's
    /// thread starts with [`Spool::start`] once the replay is done.
    pub(crate) fn open(
        config: &SpoolConfig,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<Option<(Arc<Spool>, Replayed)>> {
        let Some(dir) = &config.dir else {
            return Ok(None);
        };
        fs::create_dir_all(dir)?;
        // Fails early, at start, when the directory cannot be written or another sidecar
        // uses it.
        let lock = lock(dir)?;
        let spool = Arc::new(Spool {
            dir: dir.clone(),
            max: config.max_bytes as u64,
            used: AtomicU64::new(0),
            sync: config.sync,
            next_batch: AtomicU64::new(0),
            log: Mutex::new(None),
            thread: Mutex::new(None),
            _lock: lock,
            telemetry,
        });
        let replayed = replay::read(&spool)?;
        Ok(Some((spool, replayed)))
    }

    /// Starts the log's thread, after the sealed segments `replayed` left.
    pub(crate) fn start(self: &Arc<Self>, next_segment: u64, sealed: Vec<wal::Sealed>) {
        let (tx, rx) = sync_channel(QUEUE);
        let writer = wal::Writer::new(self.clone(), next_segment, sealed);
        let thread = std::thread::Builder::new()
            .name("cw-sidecar-spool".into())
            .spawn(move || writer.run(rx))
            .expect("the spool thread starts");
        *self.log.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes room for `n` bytes, all or nothing.
    pub fn try_reserve(&self, n: u64) -> Result<(), SpoolFull> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| used.checked_add(n).filter(|a| *a <= self.max))
            .map(|_| self.gauge())
            .map_err(|used| SpoolFull { used, max: self.max })
    }

    fn add(&self, n: u64) {
        self.used.fetch_add(n, Ordering::AcqRel);
        self.gauge();
    }

    pub(crate) fn release(&self, n: u64) {
        let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| Some(u.saturating_sub(n)));
        self.gauge();
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    fn gauge(&self) {
        self.telemetry.spool.set_bytes(self.used(), self.max);
    }

    /// Hands a framed record to the log; `then` runs on the log's thread once it is durable
    /// (`true`) or failed (`false`). Its bytes must have been reserved.
    pub(crate) fn append(&self, record: Vec<u8>, max_end_ms: i64, then: Box<dyn FnOnce(bool) + Send>) {
        let n = record.len() as u64;
        if let Err(wal::Msg::Append(a)) = self.try_send(wal::Msg::Append(wal::Append { record, max_end_ms, then })) {
            self.release(n);
            (a.then)(false);
        }
    }

    fn try_send(&self, msg: wal::Msg) -> Result<(), wal::Msg> {
        let tx = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match tx {
            Some(tx) => tx.send(msg).map_err(|e| e.0),
            None => Err(msg),
        }
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

    /// Writes a batch file (fsynced, then renamed into place), within the bound: when it does
    /// not fit, the error is of kind [`std::io::ErrorKind::StorageFull`] and nothing is
    /// written (the batch stays in memory, and the log keeps its records, until publishing
    /// frees room).
    pub fn write_batch(&self, batch: &Batch) -> std::io::Result<BatchFile> {
        let mut bytes = Vec::new();
        frame::push_frame(&mut bytes, &codec::encode_batch(batch));
        let n = bytes.len() as u64;
        if let Err(SpoolFull { used, max }) = self.try_reserve(n) {
            let why = format!("spool full: {used} of {max} bytes in use, a batch file needs {n}");
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, why));
        }
        let seq = self.next_batch.fetch_add(1, Ordering::AcqRel);
        let path = batch_path(&self.dir, seq);
        if let Err(e) = self.write_file(&path, &bytes) {
            self.release(n);
            return Err(e);
        }
        Ok(BatchFile { path, bytes: n })
    }

    /// Writes a whole file beside `path` (fsynced under `always`), then renames it into
    /// place: a crash leaves the old file or the new one, never part of one.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            if self.sync == SyncPolicy::Always {
                f.sync_data()?;
            }
            fs::rename(&tmp, path)
        })();
        if let Err(e) = &written {
            self.failed(SpoolOp::Write, e);
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Reads a batch file back.
    pub fn read_batch(&self, file: &BatchFile) -> Option<Batch> {
        let bytes = fs::read(&file.path).map_err(|e| self.failed(SpoolOp::Read, &e)).ok()?;
        frame::single(&bytes).and_then(codec::decode_batch)
    }

    /// Deletes a file the spool no longer needs.
    pub(crate) fn remove_file(&self, path: &Path, bytes: u64) {
        match fs::remove_file(path) {
            Ok(()) => self.release(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.release(bytes),
            Err(e) => self.failed(SpoolOp::Remove, &e),
        }
    }

    /// Replaces the checkpoint file (written aside, then renamed over the old one).
    pub(crate) fn write_checkpoint(&self, checkpoint: wal::Checkpoint) {
        let mut bytes = Vec::new();
        frame::push_frame(&mut bytes, &checkpoint.encode());
        if self.write_file(&self.dir.join(CHECKPOINT), &bytes).is_ok() {
            self.sync_dir();
        }
    }

    /// Makes the directory's entries (new and renamed files) durable.
    pub fn sync_dir(&self) {
        if self.sync == SyncPolicy::Always
            && let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all())
        {
            self.failed(SpoolOp::Sync, &e);
        }
    }

    fn failed(&self, op: SpoolOp, e: &std::io::Error) {
        self.telemetry.spool.failed(op);
        tracing::error!(dir = %self.dir.display(), op = op.label(), error = %e, "spool operation failed");
    }
}

/// Takes the directory's lock file, exclusively, without waiting.
fn lock(dir: &Path) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK))?;
    file.sync_all()?;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(e.kind(), format!("another process holds the spool's lock ({e})")));
    }
    Ok(file)
}

/// The lock file: one sidecar per spool directory.
const LOCK: &str = "lock";

/// The file of the last [`wal::Checkpoint`].
pub(crate) const CHECKPOINT: &str = "checkpoint";

pub(crate) fn batch_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("batch-{seq:020}.bin"))
}

#[cfg(test)]
mod tests;
