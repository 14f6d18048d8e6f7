//! The cumulative state of OTLP: the last reading of each stream, so that a cumulative point
//! can be published as the increase since the previous one. Bounded three ways: at most
//! `max_streams` streams, at most `max_bytes` bytes charged for them, and a stream not seen
//! for `idle_ms` is forgotten ([`Streams::expire`]).
//!
//! A stream is known by a fixed-size key: a keyed 128-bit hash of its identity (the resource's
//! attributes, the scope, the metric name and the dimensions the point publishes), never by
//! its text, so a stream whose resource carries a megabyte of attributes holds no more than
//! any other. What varies with the point (a histogram's bucket counts) is charged to the byte
//! budget, and a new stream (or one grown past it) that does not fit is refused.
//!
//! The semantics of a reading against the last one:
//! - the first reading only sets the baseline, unless the caller knows the stream counts from
//!   zero ([`First::FromZero`]);
//! - a reading of another shape (new bucket bounds) becomes the new baseline ([`Change::Rebased`]);
//! - a start time that moves forward, or a count that goes down, is a reset: the reading itself
//!   is the increase since ([`Change::Reset`]);
//! - a start time that moves backwards is no reset (a sender flipping between two start times
//!   would otherwise make every point a reset): the later start time is kept and the counts are
//!   compared as usual.
//!
//! Only readings the caller has validated may be given: a refused point must never become a
//! stream's last reading.

use std::collections::HashMap;

pub use crate::ingest::cumulative::{Change, Delta, First, Reading};
pub use crate::ingest::key::KeyHasher;
use crate::ingest::key::{Keys, forget_idle};

/// A stream's identity: a keyed 128-bit hash (collisions are as likely as guessing the
/// process's random keys).
pub type StreamKey = crate::ingest::key::Key;

/// What one stream is charged besides its counts: its key, the last reading's fixed part, the
/// time it was seen, the map's own overhead per entry.
pub const STREAM_BYTES: usize = 128;

/// What a stream is charged: [`STREAM_BYTES`] and 8 bytes per count of its reading.
pub fn cost(reading: &Reading) -> usize {
    STREAM_BYTES + reading.counts.len() * 8
}

/// Why a reading could not be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// A new stream while `max_streams` are held.
    Streams,
    /// Keeping it would pass `max_bytes`.
    Bytes,
}

/// The bounds of the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_streams: usize,
    pub max_bytes: usize,
    pub idle_ms: i64,
}

struct Stream {
    last: Reading,
    seen_ms: i64,
}

/// The last reading of each cumulative stream.
pub struct Streams {
    keys: Keys,
    streams: HashMap<StreamKey, Stream, foldhash::fast::RandomState>,
    bytes: usize,
    bounds: Bounds,
}

impl Streams {
    pub fn new(bounds: Bounds) -> Streams {
        Streams { keys: Keys::default(), streams: HashMap::default(), bytes: 0, bounds }
    }

    /// A hasher for a key of this state (its keys are its own: another state's differ).
    pub fn hasher(&self) -> KeyHasher {
        self.keys.hasher()
    }

    /// Records `reading` as the stream's latest and says what it amounts to, with the reading
    /// it replaced (none for a new stream), for [`Streams::restore`].
    pub fn observe(
        &mut self,
        key: StreamKey,
        mut reading: Reading,
        first: First,
        now_ms: i64,
    ) -> Result<(Change, Option<Reading>), Full> {
        let new_cost = cost(&reading);
        let Some(stream) = self.streams.get_mut(&key) else {
            if self.streams.len() >= self.bounds.max_streams {
                return Err(Full::Streams);
            }
            if self.bytes + new_cost > self.bounds.max_bytes {
                return Err(Full::Bytes);
            }
            let change = match first {
                First::Baseline => Change::Baseline,
                First::FromZero => Change::Increase(Delta { counts: reading.counts.clone(), sum: reading.sum }),
            };
            self.bytes += new_cost;
            self.streams.insert(key, Stream { last: reading, seen_ms: now_ms });
            return Ok((change, None));
        };
        let old_cost = cost(&stream.last);
        if self.bytes - old_cost + new_cost > self.bounds.max_bytes {
            // Grown past the budget: forgotten, its next reading is a first one again.
            self.bytes -= old_cost;
            self.streams.remove(&key);
            return Err(Full::Bytes);
        }
        self.bytes = self.bytes - old_cost + new_cost;
        stream.seen_ms = now_ms;
        let last = &stream.last;
        if reading.shape != last.shape || reading.counts.len() != last.counts.len() {
            let last = std::mem::replace(&mut stream.last, reading);
            return Ok((Change::Rebased, Some(last)));
        }
        let restarted = matches!((last.start_ms, reading.start_ms), (Some(a), Some(b)) if b > a);
        if let (Some(a), Some(b)) = (last.start_ms, reading.start_ms)
            && b < a
        {
            // Backwards: not a reset, and the later start time is the one to compare with.
            reading.start_ms = Some(a);
        }
        let went_down = reading.counts.iter().zip(&last.counts).any(|(n, l)| n < l);
        let change = if restarted || went_down {
            Change::Reset(Delta { counts: reading.counts.clone(), sum: reading.sum })
        } else {
            let counts = reading.counts.iter().zip(&last.counts).map(|(n, l)| n - l).collect();
            Change::Increase(Delta { counts, sum: reading.sum - last.sum })
        };
        let last = std::mem::replace(&mut stream.last, reading);
        Ok((change, Some(last)))
    }

    /// Puts back what [`Streams::observe`] replaced: the previous reading, or no stream.
    pub fn restore(&mut self, key: StreamKey, previous: Option<Reading>, now_ms: i64) {
        if let Some(s) = self.streams.remove(&key) {
            self.bytes -= cost(&s.last);
        }
        if let Some(last) = previous {
            self.bytes += cost(&last);
            self.streams.insert(key, Stream { last, seen_ms: now_ms });
        }
    }

    /// Forgets the streams not seen for `idle_ms` before `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.streams.len();
        self.bytes -= forget_idle(&mut self.streams, now_ms, self.bounds.idle_ms, |s| s.seen_ms, |s| cost(&s.last));
        before - self.streams.len()
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The bytes charged for the streams held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
#[path = "streams_tests.rs"]
mod tests;
