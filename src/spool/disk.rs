//! The spool's directory as every part of the spool uses it: its files' names, the bytes they
//! take against `spool.max_bytes`, whole-file writes that a crash cannot tear, and failures,
//! counted and logged.
//!
//! The count of bytes follows the files: it is made again from the directory ([`Disk::rescan`])
//! when the bound is hit (at most every second), when a file the spool meant to delete was
//! already gone, and every [`RESCAN_EVERY`] on the log's thread, so that files deleted from
//! outside give their room back. A directory deleted from outside is made again, with its
//! lock ([`Disk::ensure_dir`]). A part of the bound, [`Disk::reserve`], is kept for the self
//! metrics: ingest cannot take it, so `Heartbeat` and `BufferedDatums` are still recorded
//! while clients fill the spool.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// How often the log's thread counts the files again.
pub(crate) const RESCAN_EVERY: Duration = Duration::from_secs(10);
/// Counting the files again because the bound is hit happens at most this often.
const RESCAN_WHEN_FULL: Duration = Duration::from_secs(1);

/// Whose bytes a reservation is for: ingest cannot take the self metrics' reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    Ingest,
    SelfMetrics,
}

pub(crate) struct Disk {
    pub dir: PathBuf,
    max: u64,
    used: AtomicU64,
    /// Bytes reserved for log entries not yet in a segment (not in the files a rescan counts).
    queued: AtomicU64,
    pub sync: SyncPolicy,
    pub telemetry: Arc<Telemetry>,
    /// The directory's lock, held while the spool is open (taken again if the directory is
    /// made again).
    lock: Mutex<File>,
    /// When the files were last counted.
    rescanned: Mutex<Instant>,
}

/// The part of `max` kept for the self metrics: 1/64 (16 MiB of the default 1 GiB, 16 KiB of
/// the smallest spool), hours of them while ingest has filled the rest.
pub(crate) fn reserve(max: u64) -> u64 {
    max / 64
}

impl Disk {
    pub fn new(dir: PathBuf, max: u64, sync: SyncPolicy, telemetry: Arc<Telemetry>, lock: File) -> Disk {
        let (used, queued) = (AtomicU64::new(0), AtomicU64::new(0));
        let (lock, rescanned) = (Mutex::new(lock), Mutex::new(Instant::now()));
        Disk { dir, max, used, queued, sync, telemetry, lock, rescanned }
    }

    /// Takes room for `n` bytes, all or nothing; ingest's room ends [`reserve`] bytes short
    /// of the bound. When the bound is hit, the files are counted again (at most every
    /// second) before the room is refused.
    pub fn try_reserve(&self, n: u64, room: Room) -> Result<(), JournalFull> {
        let limit = match room {
            Room::Ingest => self.max - reserve(self.max),
            Room::SelfMetrics => self.max,
        };
        let take = || {
            self.used
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| used.checked_add(n).filter(|a| *a <= limit))
        };
        let taken = match take() {
            Err(_) if self.rescan_due(RESCAN_WHEN_FULL) => {
                self.rescan();
                take()
            }
            taken => taken,
        };
        taken.map(|_| self.gauge()).map_err(|used| JournalFull { used, max: self.max })
    }

    /// A log entry's room, taken until it is in a segment ([`Disk::unqueue`]).
    pub fn queue(&self, n: u64) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    pub fn unqueue(&self, n: u64) {
        let _ = self.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| Some(q.saturating_sub(n)));
    }

    fn rescan_due(&self, every: Duration) -> bool {
        let mut at = self.rescanned.lock().unwrap_or_else(|e| e.into_inner());
        let due = at.elapsed() >= every;
        if due {
            *at = Instant::now();
        }
        due
    }

    /// Counts the files again every [`RESCAN_EVERY`] (the log's thread calls it).
    pub fn rescan_if_due(&self) {
        if self.rescan_due(RESCAN_EVERY) {
            self.rescan();
        }
    }

    /// Makes the count of bytes that of the spool's files on disk (plus the log entries not
    /// yet written), so that files deleted from outside give their room back; makes the
    /// directory again if it is gone.
    pub fn rescan(&self) {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.ensure_dir();
                return;
            }
            Err(e) => return self.failed(SpoolOp::Read, &e),
        };
        let on_disk: u64 = entries
            .filter_map(Result::ok)
            .filter(|e| spool_file(&e.file_name().to_string_lossy()))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        let counted = on_disk + self.queued.load(Ordering::Acquire);
        let before = self.used.swap(counted, Ordering::AcqRel);
        if before > counted + 4096 {
            tracing::warn!(
                dir = %self.dir.display(), counted = before, on_disk = counted,
                "spool files were deleted from outside: their room is given back"
            );
        }
        self.gauge();
    }

    /// Makes the directory again, with its lock, if it was deleted while the spool runs;
    /// true when it is there.
    pub fn ensure_dir(&self) -> bool {
        if self.dir.is_dir() {
            return true;
        }
        if let Err(e) = fs::create_dir_all(&self.dir) {
            self.failed(SpoolOp::Write, &e);
            return false;
        }
        match lock(&self.dir) {
            Ok(file) => *self.lock.lock().unwrap_or_else(|e| e.into_inner()) = file,
            Err(e) => self.failed(SpoolOp::Write, &e),
        }
        tracing::warn!(
            dir = %self.dir.display(),
            "the spool directory was deleted while the sidecar runs: made again (what it held is lost to a crash, \
             not to publishing)"
        );
        self.rescan();
        true
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
    /// place: a crash leaves the old file or the new one, never part of one. A directory
    /// deleted meanwhile is made again, and the write tried once more.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let write = || {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            if self.sync == SyncPolicy::Always {
                f.sync_data()?;
            }
            fs::rename(&tmp, path)
        };
        let written = match write() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.dir.is_dir() && self.ensure_dir() => write(),
            written => written,
        };
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
            // Deleted from outside: its room may have been given back already (a rescan).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.rescan_due(RESCAN_WHEN_FULL) {
                    self.rescan();
                }
            }
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

/// The files whose bytes count against the bound: the log's segments and the batch files.
fn spool_file(name: &str) -> bool {
    (name.starts_with("wal-") && name.ends_with(".log")) || (name.starts_with("batch-") && name.ends_with(".bin"))
}

/// Takes the directory's lock file, exclusively, without waiting.
pub(crate) fn lock(dir: &Path) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let path = dir.join(LOCK);
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    file.sync_all()?;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        let why = format!(
            "the lock file {} is held by another sidecar (one sidecar per spool directory; {e})",
            path.display()
        );
        return Err(std::io::Error::new(e.kind(), why));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_segments_and_batch_files_count() {
        assert!(spool_file("wal-00000000000000000001.log") && spool_file("batch-00000000000000000002.bin"));
        assert!(!spool_file("lock") && !spool_file("checkpoint") && !spool_file("batch-00000000000000000002.tmp"));
    }

    #[test]
    fn the_self_metrics_keep_a_64th() {
        assert_eq!(reserve(1 << 20), 16 * 1024);
        assert_eq!(reserve(1 << 30), 16 << 20);
    }
}
