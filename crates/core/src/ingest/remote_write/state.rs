//! Remote-write's state between requests. Per series: the last timestamp seen, so that a
//! sample at or before it (a sender's retry of a whole request, or a sample out of order) is
//! ignored; for a cumulative series or a histogram, its last reading too, so that the next one
//! is published as the increase ([`crate::ingest::cumulative::compare`]). Per histogram: the
//! parts of the timestamps not yet whole ([`Held`]), when a histogram's buckets arrive in more
//! than one request.
//!
//! Bounded: at most `max_series` series, at most `max_bytes` bytes charged (a fixed part per
//! series, 8 bytes per count of a reading, a fixed part and 16 bytes per bucket of what is
//! held), and a series not seen for `idle_ms` is forgotten ([`State::expire`]). A series is
//! known by a fixed-size key (a keyed 128-bit hash of its name and labels), never by its text.
//!
//! Every change is journaled until [`State::commit`]: [`State::rollback`] takes a request's
//! changes back when the pipeline refuses it, so that the sender's retry is taken as new.

use std::collections::HashMap;

use crate::ingest::cumulative::{Change, Reading, compare};
use crate::ingest::key::{Keys, forget_idle};

/// A series' or histogram's identity.
pub type Key = crate::ingest::key::Key;

/// What a series is charged besides its reading's counts: its key, its timestamps, the
/// reading's fixed part, the map's overhead.
pub const SERIES_BYTES: usize = 112;
/// What a held timestamp of a histogram is charged besides its buckets.
pub const HELD_BYTES: usize = 96;
/// Timestamps of one histogram held at most, waiting for their parts.
pub const MAX_HELD: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_series: usize,
    pub max_bytes: usize,
    pub idle_ms: i64,
}

/// Why something could not be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// A new series while `max_series` are held.
    Series,
    /// Keeping it would pass `max_bytes`.
    Bytes,
}

/// What a sample is against its series' last timestamp.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// At or before the last timestamp: ignored, the state unchanged.
    Old,
    /// Newer: recorded. With a reading, what it amounts to against the last one.
    New(Option<Change>),
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    last_ms: i64,
    seen_ms: i64,
    reading: Option<Reading>,
}

/// The parts of one histogram at one timestamp, as far as they arrived.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parts {
    /// `(le, cumulative count)`.
    pub buckets: Vec<(f64, f64)>,
    pub count: Option<f64>,
    pub sum: Option<f64>,
    /// The samples they came as.
    pub samples: usize,
}

/// A histogram's parts held at a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub at_ms: i64,
    pub parts: Parts,
}

enum Undo {
    Series(Key, Option<Entry>),
    Held(Key, Option<(i64, Vec<Held>)>),
}

pub struct State {
    keys: Keys,
    series: HashMap<Key, Entry, foldhash::fast::RandomState>,
    /// Per histogram: when it was last seen, and its timestamps held.
    held: HashMap<Key, (i64, Vec<Held>), foldhash::fast::RandomState>,
    bytes: usize,
    bounds: Bounds,
    journal: Vec<Undo>,
}

fn entry_cost(e: &Entry) -> usize {
    SERIES_BYTES + e.reading.as_ref().map_or(0, |r| r.counts.len() * 8)
}

fn held_cost(held: &[Held]) -> usize {
    held.iter().map(|h| HELD_BYTES + h.parts.buckets.len() * 16).sum()
}

impl State {
    pub fn new(bounds: Bounds) -> State {
        State {
            keys: Keys::default(),
            series: HashMap::default(),
            held: HashMap::default(),
            bytes: 0,
            bounds,
            journal: Vec::new(),
        }
    }

    /// The key of an identity given as its parts (each written with its length, so that no
    /// part runs into the next).
    pub fn key<'s>(&self, parts: impl IntoIterator<Item = &'s str>) -> Key {
        let mut h = self.keys.hasher();
        for p in parts {
            h.write_str(p);
        }
        h.finish()
    }

    /// Records a sample at `at_ms` of series `key`, with its `reading` when the series is
    /// cumulative; a new series that does not fit is not kept.
    pub fn observe(&mut self, key: Key, at_ms: i64, reading: Option<Reading>, now_ms: i64) -> Result<Seen, Full> {
        let old = self.series.get(&key);
        if old.is_some_and(|e| at_ms <= e.last_ms) {
            return Ok(Seen::Old);
        }
        let change = reading.as_ref().map(|r| match old.and_then(|e| e.reading.as_ref()) {
            Some(last) => compare(last, r),
            None => Change::Baseline,
        });
        let entry =
            Entry { last_ms: at_ms, seen_ms: now_ms, reading: reading.or_else(|| old.and_then(|e| e.reading.clone())) };
        let held = old.map_or(0, entry_cost);
        if old.is_none() && self.series.len() >= self.bounds.max_series {
            return Err(Full::Series);
        }
        if self.bytes - held + entry_cost(&entry) > self.bounds.max_bytes {
            return Err(Full::Bytes);
        }
        self.bytes = self.bytes - held + entry_cost(&entry);
        let previous = self.series.insert(key, entry);
        self.journal.push(Undo::Series(key, previous));
        Ok(Seen::New(change))
    }

    /// Forgets a series' reading (a stale marker: its next sample sets a new baseline).
    pub fn forget_reading(&mut self, key: Key) {
        let Some(e) = self.series.get_mut(&key) else { return };
        if e.reading.is_none() {
            return;
        }
        let before = e.clone();
        self.bytes -= entry_cost(e);
        e.reading = None;
        self.bytes += entry_cost(e);
        self.journal.push(Undo::Series(key, Some(before)));
    }

    /// A series' (or histogram's) last reading.
    pub fn reading(&self, key: Key) -> Option<&Reading> {
        self.series.get(&key)?.reading.as_ref()
    }

    /// A series' (or histogram's) last timestamp.
    pub fn last_ms(&self, key: Key) -> Option<i64> {
        self.series.get(&key).map(|e| e.last_ms)
    }

    /// Whether the state knows `key` (as a series, or as a histogram with parts held).
    pub fn knows(&self, key: Key) -> bool {
        self.series.contains_key(&key) || self.held.contains_key(&key)
    }

    /// Takes what is held of a histogram, oldest first.
    pub fn take_held(&mut self, key: Key) -> Vec<Held> {
        let Some((seen, held)) = self.held.remove(&key) else { return Vec::new() };
        self.bytes -= held_cost(&held);
        self.journal.push(Undo::Held(key, Some((seen, held.clone()))));
        held
    }

    /// Holds a histogram's parts (at most [`MAX_HELD`] timestamps: the caller keeps the
    /// newest); nothing is held when they do not fit.
    pub fn hold(&mut self, key: Key, held: Vec<Held>, now_ms: i64) -> Result<(), Full> {
        if held.is_empty() {
            return Ok(());
        }
        let previous = self.held.remove(&key);
        let freed = previous.as_ref().map_or(0, |(_, h)| held_cost(h));
        let cost = held_cost(&held);
        if self.bytes - freed + cost > self.bounds.max_bytes {
            if let Some(p) = previous {
                self.held.insert(key, p);
            }
            return Err(Full::Bytes);
        }
        self.bytes = self.bytes - freed + cost;
        self.held.insert(key, (now_ms, held));
        self.journal.push(Undo::Held(key, previous));
        Ok(())
    }

    /// Keeps what was changed since the last commit or rollback.
    pub fn commit(&mut self) {
        self.journal.clear();
    }

    /// Takes back everything changed since the last commit or rollback.
    pub fn rollback(&mut self) {
        while let Some(undo) = self.journal.pop() {
            match undo {
                Undo::Series(key, previous) => {
                    if let Some(e) = self.series.remove(&key) {
                        self.bytes -= entry_cost(&e);
                    }
                    if let Some(e) = previous {
                        self.bytes += entry_cost(&e);
                        self.series.insert(key, e);
                    }
                }
                Undo::Held(key, previous) => {
                    if let Some((_, h)) = self.held.remove(&key) {
                        self.bytes -= held_cost(&h);
                    }
                    if let Some((seen, h)) = previous {
                        self.bytes += held_cost(&h);
                        self.held.insert(key, (seen, h));
                    }
                }
            }
        }
    }

    /// Forgets the series and histograms not seen for `idle_ms` before `now_ms` (committing
    /// what is pending); returns how many series.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        self.commit();
        let (idle, before) = (self.bounds.idle_ms, self.series.len());
        self.bytes -= forget_idle(&mut self.series, now_ms, idle, |e| e.seen_ms, entry_cost);
        self.bytes -= forget_idle(&mut self.held, now_ms, idle, |(seen, _)| *seen, |(_, h)| held_cost(h));
        before - self.series.len()
    }

    /// Series (histograms included) held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The bytes charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}
