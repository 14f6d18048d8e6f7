//! The spool's directory as every part of the spool uses it: its files' names, the bytes they
//! take against `spool.max_bytes`, whole-file writes that a crash cannot tear, and failures,
//! counted and logged.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cw_core::pipeline::admission::JournalFull;
use cw_core::reasons::{SpoolDamage, SpoolOp};
use cw_core::spool::checkpoint::Checkpoint;
use cw_core::spool::frame;

use crate::config::SyncPolicy;
use crate::telemetry::Telemetry;

/// The lock file: one sidecar per spool directory.
pub(crate) const LOCK: &str = "lock";

/// The file of the last [`Checkpoint`].
pub(crate) const CHECKPOINT: &str = "checkpoint";

pub(crate) fn batch_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("batch-{seq:020}.bin"))
}

pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("wal-{id:020}.log"))
}

pub(crate) struct Disk {
    pub dir: PathBuf,
    max: u64,
    used: AtomicU64,
    pub sync: SyncPolicy,
    pub telemetry: Arc<Telemetry>,
}

impl Disk {
    pub fn new(dir: PathBuf, max: u64, sync: SyncPolicy, telemetry: Arc<Telemetry>) -> Disk {
        Disk { dir, max, used: AtomicU64::new(0), sync, telemetry }
    }

    /// Takes room for `n` bytes, all or nothing.
    pub fn try_reserve(&self, n: u64) -> Result<(), JournalFull> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| used.checked_add(n).filter(|a| *a <= self.max))
            .map(|_| self.gauge())
            .map_err(|used| JournalFull { used, max: self.max })
    }

    /// Counts `n` bytes a start found on disk.
    pub fn add(&self, n: u64) {
        self.used.fetch_add(n, Ordering::AcqRel);
        self.gauge();
    }

    pub fn release(&self, n: u64) {
        let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| Some(u.saturating_sub(n)));
        self.gauge();
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    fn gauge(&self) {
        self.telemetry.spool.set_bytes(self.used(), self.max);
    }

    /// Writes a whole file beside `path` (fsynced under `always`), then renames it into
    /// place: a crash leaves the old file or the new one, never part of one.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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

    /// Deletes a file the spool no longer needs.
    pub fn remove_file(&self, path: &Path, bytes: u64) {
        match fs::remove_file(path) {
            Ok(()) => self.release(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.release(bytes),
            Err(e) => self.failed(SpoolOp::Remove, &e),
        }
    }

    /// Replaces the checkpoint file (written aside, then renamed over the old one).
    pub fn write_checkpoint(&self, checkpoint: Checkpoint) {
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

    pub fn failed(&self, op: SpoolOp, e: &std::io::Error) {
        self.telemetry.spool.failed(op);
        tracing::error!(dir = %self.dir.display(), op = op.label(), error = %e, "spool operation failed");
    }

    /// A damaged stretch of a file, counted and skipped.
    pub fn damaged(&self, path: &Path, reason: SpoolDamage, bytes: usize) {
        self.telemetry.spool.damaged(reason, bytes);
        tracing::error!(file = %path.display(), reason = reason.label(), bytes, "damaged spool file: skipping that part");
    }
}
