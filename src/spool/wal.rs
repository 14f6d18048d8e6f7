//! The write-ahead log of accepted records: one thread owns the current segment file and
//! writes what submissions hand it, many at once (group commit: one write and, under
//! `sync = always`, one fsync for every submission that queued meanwhile). A submission's
//! records are aggregated on that thread right after they are durable, so the order of the
//! messages is the order of the log: when a seal is handled, every record logged before it is
//! already in its window. A flush seals the current segment before it drains the windows; once
//! its batches are on disk, the sealed segments whose windows it drained are deleted.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use cw_core::pipeline::admission::JournalEntry;
use cw_core::pipeline::admission::journal::Then;
use cw_core::reasons::SpoolOp;
use cw_core::spool::checkpoint::Checkpoint;

use super::disk::{Disk, segment_path};
use crate::config::SyncPolicy;

/// How often `sync = periodic` calls fsync.
const PERIODIC_SYNC: Duration = Duration::from_secs(1);

/// What a submission hands the log: a framed record, and what to do once it is durable (with
/// `true`) or could not be written (with `false`).
pub(crate) struct Append {
    pub entry: JournalEntry,
    pub then: Then,
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

/// The log's thread: runs until every sender is gone.
pub(crate) struct Writer {
    disk: Arc<Disk>,
    next_id: u64,
    current: Option<Current>,
    sealed: Vec<Sealed>,
    last_sync: Instant,
}

impl Writer {
    pub fn new(disk: Arc<Disk>, next_id: u64, sealed: Vec<Sealed>) -> Writer {
        Writer { disk, next_id, current: None, sealed, last_sync: Instant::now() }
    }

    pub fn run(mut self, rx: Receiver<Msg>) {
        batch_scheduling();
        let mut run: Vec<Append> = Vec::new();
        loop {
            let first = match rx.recv_timeout(PERIODIC_SYNC) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.sync_if_due();
                    self.disk.rescan_if_due();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // The submitters the last commit woke get the core first (see `batch_scheduling`):
            // they answer their clients and submit the next requests, which join this commit.
            std::thread::yield_now();
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
            self.disk.rescan_if_due();
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
                let disk = &self.disk;
                // Recorded first: a segment that outlives this (it holds a later window too)
                // is replayed without the windows that are in batch files now.
                disk.write_checkpoint(Checkpoint { below, end_ms });
                self.sealed.retain(|s| {
                    let covered = s.id < below && s.max_end_ms <= end_ms;
                    if covered {
                        disk.remove_file(&s.path, s.bytes);
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
            self.disk.unqueue(a.entry.bytes.len() as u64);
            // Bytes that stay in a segment are counted with it until it is deleted.
            if !in_file {
                self.disk.release(a.entry.bytes.len() as u64);
            }
            (a.then)(ok);
        }
    }

    /// Whether the run is durable, and whether its bytes are in a segment (a failed fsync
    /// leaves them there, not durable: refused, and replayed only if a crash comes first).
    fn write(&mut self, run: &[Append]) -> (bool, bool) {
        let disk = self.disk.clone();
        self.check_current();
        let Some(current) = self.current() else {
            return (false, false);
        };
        let bytes: Vec<u8> = run.iter().flat_map(|a| a.entry.bytes.iter().copied()).collect();
        if let Err(e) = current.file.write_all(&bytes) {
            disk.failed(SpoolOp::Write, &e);
            // Cut what part of it was written, so that the next records follow a whole one;
            // if that fails too, a new segment starts (a reader skips the torn frame).
            if current.file.set_len(current.bytes).is_err() {
                self.seal();
            }
            return (false, false);
        }
        current.bytes += bytes.len() as u64;
        current.max_end_ms = run.iter().map(|a| a.entry.max_end_ms).fold(current.max_end_ms, i64::max);
        current.dirty = true;
        disk.telemetry.spool.committed();
        match disk.sync {
            SyncPolicy::Always => (self.sync_if_dirty(), true),
            SyncPolicy::Periodic => {
                self.sync_if_due();
                (true, true)
            }
        }
    }

    /// The segment being written, opened (with its directory entry made durable) if none is;
    /// in a directory made again if it was deleted.
    fn current(&mut self) -> Option<&mut Current> {
        if self.current.is_none() {
            let id = self.next_id;
            let path = segment_path(&self.disk.dir, id);
            let open = || OpenOptions::new().create_new(true).append(true).open(&path);
            let opened = match open() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.disk.ensure_dir() => open(),
                opened => opened,
            };
            match opened {
                Ok(file) => {
                    self.next_id += 1;
                    self.disk.sync_dir();
                    self.current = Some(Current { id, file, bytes: 0, max_end_ms: i64::MIN, dirty: false });
                }
                Err(e) => {
                    self.disk.failed(SpoolOp::Write, &e);
                    return None;
                }
            }
        }
        self.current.as_mut()
    }

    /// A segment deleted from outside (alone or with the directory) takes writes that no
    /// replay would read: it is let go, and a fresh one started (in a directory made again).
    fn check_current(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let Some(c) = &self.current else {
            return;
        };
        if c.file.metadata().is_ok_and(|m| m.nlink() > 0) {
            return;
        }
        tracing::warn!(
            file = %segment_path(&self.disk.dir, c.id).display(),
            "the spool's log segment was deleted while the sidecar runs: starting a fresh one"
        );
        self.current = None;
        self.disk.ensure_dir();
        self.disk.rescan();
    }

    fn seal(&mut self) {
        self.sync_if_dirty();
        if let Some(c) = self.current.take() {
            let path = segment_path(&self.disk.dir, c.id);
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
                self.disk.failed(SpoolOp::Sync, &e);
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

/// Group commit, from the scheduler's side: the log's thread takes `SCHED_BATCH`, so that a
/// submission waking it does not preempt the threads serving ingest on the same core. It
/// runs when they wait (for the network, or for this very commit) or at the scheduler's next
/// turn, and by then every submission made meanwhile has joined its commit: one fsync for
/// them all. On a machine with a core to spare it runs at once, as before.
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sets this thread's scheduling policy; `param` lives on this stack.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "the spool's thread keeps the default scheduling");
        }
    }
}
