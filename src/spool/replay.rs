//! What a start finds in the spool: batch files to publish and log segments to aggregate
//! again. Damage is counted and skipped, never fatal: a torn tail or a garbled frame loses
//! that frame only, a file that cannot be read is left where it is, and a batch file with
//! nothing good in it is removed so that it is not counted again at every start.
//!
//! What is read goes back to whoever starts the sidecar: the batch files for the outbox,
//! the log's records for the pipeline ([`Replayed::records`]); the replay itself knows
//! neither.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use cw_core::domain::limits::MAX_AGE_MS;
use cw_core::domain::payload::Payload;
use cw_core::pipeline::aggregate::window_end;
use cw_core::reasons::{SpoolDamage, SpoolOp, SpoolReplayed};
use cw_core::spool::checkpoint::Checkpoint;
use cw_core::spool::codec;
use cw_core::spool::frame::{self, Damage};
use cw_core::spool::window;

use super::disk::{CHECKPOINT, Disk, LOCK};
use super::wal::Sealed;
use crate::publish::store::BatchFile;

struct Segment {
    id: u64,
    path: PathBuf,
    bytes: u64,
}

/// What an earlier run left, read but not yet handed on.
pub struct Replayed {
    batches: Vec<(BatchFile, usize)>,
    /// How many batch files, and their datums.
    found: (usize, usize),
    segments: Vec<Segment>,
    pub(super) next_segment: u64,
    pub(super) next_batch: u64,
    checkpoint: Checkpoint,
}

/// Where the log goes on after a replay: past the segments it read, which stay until a
/// flush covers them.
pub struct Resume {
    pub(super) next_segment: u64,
    pub(super) sealed: Vec<Sealed>,
}

fn id_of(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()
}

/// Lists the spool and checks its batch files.
pub(super) fn read(disk: &Disk) -> std::io::Result<Replayed> {
    let mut batches = Vec::new();
    let mut segments = Vec::new();
    let mut next_batch = 0;
    for entry in fs::read_dir(&disk.dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if let Some(seq) = id_of(&name, "batch-", ".bin") {
            next_batch = next_batch.max(seq + 1);
            batches.push((seq, BatchFile { path, bytes }));
        } else if let Some(id) = id_of(&name, "wal-", ".log") {
            segments.push(Segment { id, path, bytes });
        } else if name == CHECKPOINT || name == LOCK {
            continue;
        } else if name.ends_with(".tmp") && (name.starts_with("batch-") || name.starts_with(CHECKPOINT)) {
            // Cut short before its rename: a batch file's records are still in the log, and
            // the checkpoint it would have replaced is still there.
            let _ = fs::remove_file(&path);
        } else {
            tracing::warn!(file = %path.display(), "not a spool file; left alone");
        }
    }
    batches.sort_by_key(|(seq, _)| *seq);
    segments.sort_by_key(|s| s.id);
    let next_segment = segments.last().map_or(0, |s| s.id + 1);
    let mut good = Vec::new();
    for (_, file) in batches {
        let Ok(bytes) = fs::read(&file.path) else {
            disk.telemetry.spool.failed(SpoolOp::Read);
            disk.damaged(&file.path, SpoolDamage::Unreadable, file.bytes as usize);
            continue;
        };
        let scan = frame::scan(&bytes);
        scan.damage.iter().for_each(|d| disk.damaged(&file.path, kind(*d), d.bytes()));
        match scan.frames.as_slice() {
            [record] => match codec::decode_batch(record) {
                Some(batch) => {
                    disk.add(file.bytes);
                    good.push((file, batch.len()));
                    continue;
                }
                None => disk.damaged(&file.path, SpoolDamage::Unreadable, record.len()),
            },
            _ if scan.damage.is_empty() => disk.damaged(&file.path, SpoolDamage::Unreadable, bytes.len()),
            _ => {}
        }
        let _ = fs::remove_file(&file.path);
    }
    segments.iter().for_each(|s| disk.add(s.bytes));
    let checkpoint = read_checkpoint(disk);
    // New segments are numbered past the checkpoint, which would take them for covered ones
    // (after a clean stop no segment is left to number from).
    let next_segment = next_segment.max(checkpoint.below);
    let found = (good.len(), good.iter().map(|(_, n)| n).sum());
    Ok(Replayed { batches: good, found, segments, next_segment, next_batch, checkpoint })
}

/// The last checkpoint; none (nothing skipped) when it is missing or damaged.
fn read_checkpoint(disk: &Disk) -> Checkpoint {
    let path = disk.dir.join(CHECKPOINT);
    let Ok(bytes) = fs::read(&path) else {
        return Checkpoint::NONE;
    };
    frame::single(&bytes).and_then(Checkpoint::decode).unwrap_or_else(|| {
        disk.damaged(&path, SpoolDamage::Unreadable, bytes.len());
        Checkpoint::NONE
    })
}

/// Reads the frames of the file at `path` `window` bytes at a time, handing each to `frame`
/// and the damage between them to `damaged`. What was handed before a read error stays handed.
fn read_frames(
    path: &Path,
    window: usize,
    mut damaged: impl FnMut(Damage),
    mut frame: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    let mut file = fs::File::open(path)?;
    let mut more = file.metadata()?.len();
    let window = window.max(1) as u64;
    let mut held = Vec::new();
    loop {
        let take = more.min(window);
        let n = (&mut file).take(take).read_to_end(&mut held)? as u64;
        // A file cut shorter meanwhile ends here.
        more = if n < take { 0 } else { more - n };
        let (scan, covered) = window::scan_window(&held, more);
        scan.damage.iter().for_each(|d| damaged(*d));
        scan.frames.iter().for_each(|f| frame(f));
        held.drain(..covered);
        if more == 0 {
            return Ok(());
        }
    }
}

fn kind(d: Damage) -> SpoolDamage {
    match d {
        Damage::Checksum { .. } => SpoolDamage::Checksum,
        Damage::TornTail { .. } => SpoolDamage::TornTail,
    }
}

impl Replayed {
    /// The batch files found (with their datums), to publish; counted as replayed.
    pub(super) fn take_batches(&mut self, disk: &Disk) -> Vec<(BatchFile, usize)> {
        disk.telemetry.spool.replayed(SpoolReplayed::Datums, self.found.1);
        std::mem::take(&mut self.batches)
    }

    /// Hands each record of the log that no batch file holds and CloudWatch would still take
    /// to `restore` (which aggregates it and answers the end of its window), and says where
    /// the log goes on. Each segment is read `window` bytes at a time (and a record larger
    /// than that whole), not whole: a log larger than memory replays within its share.
    pub(super) fn records(
        self,
        disk: &Disk,
        now_ms: i64,
        window: usize,
        mut restore: impl FnMut(&[u8], i64, Payload) -> i64,
    ) -> Resume {
        let (files, datums) = self.found;
        let oldest = now_ms - MAX_AGE_MS;
        let (mut records, mut expired, mut published) = (0, 0, 0);
        let mut sealed = Vec::new();
        for s in self.segments {
            let mut max_end_ms = i64::MIN;
            let read = read_frames(
                &s.path,
                window,
                |d| disk.damaged(&s.path, kind(d), d.bytes()),
                |record| {
                    let Some(entries) = codec::entries(record) else {
                        disk.damaged(&s.path, SpoolDamage::Unreadable, record.len());
                        return;
                    };
                    for e in entries {
                        if self.checkpoint.covers(s.id, window_end(e.key, e.window_start_ms)) {
                            published += 1;
                            continue;
                        }
                        if e.window_start_ms < oldest {
                            expired += 1;
                            continue;
                        }
                        max_end_ms = max_end_ms.max(restore(e.key, e.window_start_ms, e.payload));
                        records += 1;
                    }
                },
            );
            if let Err(e) = read {
                disk.failed(SpoolOp::Read, &e);
                disk.damaged(&s.path, SpoolDamage::Unreadable, s.bytes as usize);
                // Kept until covered like the others; a later start may read it.
                max_end_ms = i64::MAX;
            }
            sealed.push(Sealed { id: s.id, path: s.path, bytes: s.bytes, max_end_ms });
        }
        disk.telemetry.spool.replayed(SpoolReplayed::Records, records);
        disk.telemetry.spool.expired(expired);
        if expired > 0 {
            tracing::error!(records = expired, "spooled records older than CloudWatch's 14-day window dropped");
        }
        if files + records + published > 0 {
            tracing::info!(
                batch_files = files,
                datums,
                records,
                records_in_batch_files = published,
                "replaying the spool"
            );
        }
        Resume { next_segment: self.next_segment, sealed }
    }
}
