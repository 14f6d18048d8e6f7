//! The write-ahead log of accepted records: one thread owns the current segment file and
//! writes what submissions hand it, many at once (group commit: one write and, under
//! `sync = always`, one fsync for every submission that queued meanwhile). A submission's
//! records are aggregated on that thread right after they are durable, so the order of the
//! messages is the order of the log: when a seal is handled, every record logged before it is
//! already in its window. A flush seals the current segment before it drains the windows; once
//! its batches are on disk, the sealed segments whose windows it drained are deleted.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use crate::config::SyncPolicy;
use crate::spool::Spool;
use cw_core::reasons::SpoolOp;

/// How often `sync = periodic` calls fsync.
const PERIODIC_SYNC: Duration = Duration::from_secs(1);

/// What a submission hands the log: a framed record, and what to do once it is durable (with
/// `true`) or could not be written (with `false`).
pub(crate) struct Append {
    pub record: Vec<u8>,
    /// The end of the latest window its records went into (ms).
    pub max_end_ms: i64,
    pub then: Box<dyn FnOnce(bool) + Send>,
}

pub(crate) enum Msg {
    Append(Append),
    /// Closes the current segment; answers the id below which every segment is sealed.
    Seal(SyncSender<u64>),
    /// Deletes sealed segments below `below` whose windows all ended by `end_ms`.
    Covered {
        below: u64,
        end_ms: i64,
    },
    /// Answered once everything queued before it is durable.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// What the last flush moved into batch files: the windows that ended by `end_ms`, of the
/// segments below `below`. A replay skips those records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub below: u64,
    pub end_ms: i64,
}

impl Checkpoint {
    pub const NONE: Checkpoint = Checkpoint { below: 0, end_ms: i64::MIN };

    /// Whether a record of segment `id` whose window ends at `end_ms` is in a batch file.
    pub fn covers(self, id: u64, end_ms: i64) -> bool {
        id < self.below && end_ms <= self.end_ms
    }

    pub fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.below.to_le_bytes());
        out[8..].copy_from_slice(&self.end_ms.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        let below = u64::from_le_bytes(bytes[..8].try_into().ok()?);
        Some(Checkpoint { below, end_ms: i64::from_le_bytes(bytes[8..].try_into().ok()?) })
    }
}

/// A segment that takes no more records.
pub(crate) struct Sealed {
    pub id: u64,
    pub path: PathBuf,
    pub bytes: u64,
    pub max_end_ms: i64,
}

struct Current {
    id: u64,
    file: File,
    bytes: u64,
    max_end_ms: i64,
    dirty: bool,
}

pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("wal-{id:020}.log"))
}

/// The log's thread: runs until every sender is gone.
pub(crate) struct Writer {
    spool: Arc<Spool>,
    next_id: u64,
    current: Option<Current>,
    sealed: Vec<Sealed>,
    last_sync: Instant,
}

impl Writer {
    pub fn new(spool: Arc<Spool>, next_id: u64, sealed: Vec<Sealed>) -> Writer {
        Writer { spool, next_id, current: None, sealed, last_sync: Instant::now() }
    }

    pub fn run(mut self, rx: Receiver<Msg>) {
        let mut run: Vec<Append> = Vec::new();
        loop {
            let first = match rx.recv_timeout(PERIODIC_SYNC) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.sync_if_due();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Everything queued meanwhile goes into this commit, in order.
            for msg in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                match msg {
                    Msg::Append(a) => run.push(a),
                    other => {
                        self.commit(&mut run);
                        self.handle(other);
                    }
                }
            }
            self.commit(&mut run);
        }
        self.commit(&mut run);
        self.sync_if_dirty();
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Append(_) => unreachable!("appends are committed in runs"),
            Msg::Seal(reply) => {
                self.seal();
                let _ = reply.send(self.next_id);
            }
            Msg::Covered { below, end_ms } => {
                let spool = &self.spool;
                // Recorded first: a segment that outlives this (it holds a later window too)
                // is replayed without the windows that are in batch files now.
                spool.write_checkpoint(Checkpoint { below, end_ms });
                self.sealed.retain(|s| {
                    let covered = s.id < below && s.max_end_ms <= end_ms;
                    if covered {
                        spool.remove_file(&s.path, s.bytes);
                    }
                    !covered
                });
            }
            Msg::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }

    /// Writes a run of appends with one write (and one fsync under `always`), then tells each
    /// submission.
    fn commit(&mut self, run: &mut Vec<Append>) {
        if run.is_empty() {
            return;
        }
        let (ok, in_file) = self.write(run);
        for a in run.drain(..) {
            // Bytes that stay in a segment are counted with it until it is deleted.
            if !in_file {
                self.spool.release(a.record.len() as u64);
            }
            (a.then)(ok);
        }
    }

    /// Whether the run is durable, and whether its bytes are in a segment (a failed fsync
    /// leaves them there, not durable: refused, and replayed only if a crash comes first).
    fn write(&mut self, run: &[Append]) -> (bool, bool) {
        let spool = self.spool.clone();
        let Some(current) = self.current() else {
            return (false, false);
        };
        let bytes: Vec<u8> = run.iter().flat_map(|a| a.record.iter().copied()).collect();
        if let Err(e) = current.file.write_all(&bytes) {
            spool.failed(SpoolOp::Write, &e);
            // Cut what part of it was written, so that the next records follow a whole one;
            // if that fails too, a new segment starts (a reader skips the torn frame).
            if current.file.set_len(current.bytes).is_err() {
                self.seal();
            }
            return (false, false);
        }
        current.bytes += bytes.len() as u64;
        current.max_end_ms = run.iter().map(|a| a.max_end_ms).fold(current.max_end_ms, i64::max);
        current.dirty = true;
        spool.telemetry.spool.committed();
        match spool.sync {
            SyncPolicy::Always => (self.sync_if_dirty(), true),
            SyncPolicy::Periodic => {
                self.sync_if_due();
                (true, true)
            }
        }
    }

    /// The segment being written, opened (with its directory entry made durable) if none is.
    fn current(&mut self) -> Option<&mut Current> {
        if self.current.is_none() {
            let id = self.next_id;
            let path = segment_path(&self.spool.dir, id);
            match OpenOptions::new().create_new(true).append(true).open(&path) {
                Ok(file) => {
                    self.next_id += 1;
                    self.spool.sync_dir();
                    self.current = Some(Current { id, file, bytes: 0, max_end_ms: i64::MIN, dirty: false });
                }
                Err(e) => {
                    self.spool.failed(SpoolOp::Write, &e);
                    return None;
                }
            }
        }
        self.current.as_mut()
    }

    fn seal(&mut self) {
        self.sync_if_dirty();
        if let Some(c) = self.current.take() {
            let path = segment_path(&self.spool.dir, c.id);
            self.sealed.push(Sealed { id: c.id, path, bytes: c.bytes, max_end_ms: c.max_end_ms });
        }
    }

    /// fsync of the current segment; false when it failed (what it held may not be durable:
    /// the segment is sealed, and its submissions are refused).
    fn sync_if_dirty(&mut self) -> bool {
        let Some(c) = self.current.as_mut().filter(|c| c.dirty) else {
            return true;
        };
        self.last_sync = Instant::now();
        match c.file.sync_data() {
            Ok(()) => {
                c.dirty = false;
                true
            }
            Err(e) => {
                self.spool.failed(SpoolOp::Sync, &e);
                c.dirty = false;
                self.seal();
                false
            }
        }
    }

    fn sync_if_due(&mut self) {
        if self.last_sync.elapsed() >= PERIODIC_SYNC {
            self.sync_if_dirty();
        }
    }
}
