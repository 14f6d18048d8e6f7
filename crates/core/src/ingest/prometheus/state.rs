//! A target's state between scrapes, bounded in bytes as well as in count: every series and
//! stream is known by a fixed-size key (a 128-bit keyed hash of its identity), never by its
//! text, so a target answering long label values holds no more than one answering short
//! ones; what varies (a histogram's bucket counts) is charged to the target's byte budget
//! (`max_state_bytes_per_target`), and a new series or stream past it is refused.

use std::collections::{HashMap, HashSet};

use crate::ingest::cumulative::{Change, First, Reading, Streams};
use crate::ingest::key::Keys;

/// Bound on the cumulative streams kept per target (series before labels are dropped).
pub const MAX_STREAMS: usize = 100_000;
/// Bound on the series keys remembered per target for logging once (capped series, families).
pub(super) const MAX_REMEMBERED: usize = 10_000;
/// What one admitted series is estimated to hold: its key in the set and the set's overhead.
pub const ADMITTED_BYTES: usize = 48;
/// What one stream is estimated to hold besides its counts: its key in the streams and in the
/// byte accounting, the last reading's fixed part, the maps' overhead.
pub const STREAM_BYTES: usize = 160;

/// A series' or stream's identity, as a keyed 128-bit hash (collisions are as likely as
/// guessing the process's random keys).
pub type Key = crate::ingest::key::Key;

/// Why a stream could not be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// [`MAX_STREAMS`] are held.
    Streams,
    /// The byte budget is spent.
    Bytes,
}

/// A target's state between scrapes.
pub struct TargetState {
    keys: Keys,
    streams: Streams<Key>,
    /// The bytes each stream of `streams` is charged.
    known: HashMap<Key, usize>,
    stream_bytes: usize,
    /// The series published under the cap.
    pub(super) admitted: HashSet<Key>,
    /// Capped series already logged.
    pub(super) logged: HashSet<Key>,
    /// Families already warned about.
    pub(super) warned: HashSet<Key>,
    /// When the previous scrape started; none before the first.
    pub(super) previous_ms: Option<i64>,
}

impl Default for TargetState {
    fn default() -> Self {
        TargetState {
            keys: Keys::default(),
            streams: Streams::new(MAX_STREAMS, i64::MAX),
            known: HashMap::new(),
            stream_bytes: 0,
            admitted: HashSet::new(),
            logged: HashSet::new(),
            warned: HashSet::new(),
            previous_ms: None,
        }
    }
}

impl TargetState {
    /// The fixed-size key of a series' or stream's identity, given as its parts.
    pub fn key(&self, parts: &[&str]) -> Key {
        let mut h = self.keys.hasher();
        for p in parts {
            h.write_str(p);
        }
        h.finish()
    }

    /// The bytes the state is charged: its admitted series and its streams.
    pub fn bytes(&self) -> usize {
        self.admitted.len() * ADMITTED_BYTES + self.stream_bytes
    }

    /// Whether one more admitted series fits in `max_bytes`.
    pub(super) fn room_for_series(&self, max_bytes: usize) -> bool {
        self.bytes() + ADMITTED_BYTES <= max_bytes
    }

    /// Records a stream's reading, charging its bytes; a new stream (or one grown past the
    /// budget) that does not fit is not kept.
    pub(super) fn observe(
        &mut self,
        key: Key,
        reading: Reading,
        first: First,
        now_ms: i64,
        max_bytes: usize,
    ) -> Result<Change, Full> {
        let cost = STREAM_BYTES + reading.counts.len() * 8;
        let held = self.known.get(&key).copied();
        if self.bytes() - held.unwrap_or(0) + cost > max_bytes {
            if held.is_some() {
                self.forget(&key);
            }
            return Err(Full::Bytes);
        }
        match self.streams.observe(key, reading, first, now_ms) {
            Change::TooManyStreams => Err(Full::Streams),
            change => {
                self.stream_bytes = self.stream_bytes - held.unwrap_or(0) + cost;
                self.known.insert(key, cost);
                Ok(change)
            }
        }
    }

    fn forget(&mut self, key: &Key) {
        if let Some(cost) = self.known.remove(key) {
            self.stream_bytes -= cost;
            self.streams.forget(key);
        }
    }

    /// Forgets the streams not seen in this scrape.
    pub(super) fn forget_unseen(&mut self, seen: &HashSet<Key>) {
        let gone: Vec<Key> = self.known.keys().filter(|k| !seen.contains(*k)).copied().collect();
        for k in &gone {
            self.forget(k);
        }
    }

    /// How many cumulative streams are held.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }
}
