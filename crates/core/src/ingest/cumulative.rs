//! Cumulative readings (a Prometheus counter or histogram, an OTLP cumulative sum or
//! histogram) turned into increases, per stream. Pure: the caller names the stream, gives the
//! reading and the time, and publishes what comes back.
//!
//! A stream's first reading only sets the baseline, unless the caller knows it counts from
//! zero (its start time is after the sidecar's own, say). A monotonic part that goes down, or
//! a new start time, is a reset: the reading itself is then the increase since the reset, as
//! Prometheus' `increase()` takes it. A reading of another shape (new bucket bounds) cannot be
//! compared with the last one: it becomes the new baseline and is reported as such.
//!
//! The state is bounded: at most `max_streams` streams, and a stream not seen for `idle_ms`
//! is forgotten by [`Streams::expire`] (its next reading is a first one again).

use std::collections::HashMap;
use std::hash::Hash;

/// One reading of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// When the stream started counting (OTLP `start_time_unix_nano`, Prometheus `_created`),
    /// in milliseconds since the epoch, when known.
    pub start_ms: Option<i64>,
    /// What must match for two readings to be compared (a hash of the bucket bounds, say).
    pub shape: u64,
    /// The parts that never go down between resets: `[value]` for a counter, `[count,
    /// bucket0, bucket1, ...]` (per-bucket, not cumulative in `le`) for a histogram.
    pub counts: Vec<f64>,
    /// A part that may go either way (a histogram's sum); 0 when there is none.
    pub sum: f64,
}

/// How a stream's first reading counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// It only sets the baseline: what it counted before is not known to be new.
    Baseline,
    /// The stream is known to have started counting from zero since the last look: all of
    /// it is an increase.
    FromZero,
}

/// An increase between two readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub counts: Vec<f64>,
    pub sum: f64,
}

/// What a reading amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The first reading of the stream (or the first after it expired): the baseline.
    Baseline,
    /// The increase since the previous reading.
    Increase(Delta),
    /// The stream was reset since the previous reading: this is what it counted since.
    Reset(Delta),
    /// The reading's shape differs from the previous one: it is the new baseline, and what
    /// happened between the two readings cannot be known.
    Rebased,
    /// The stream is new and the state already holds `max_streams` streams: not tracked.
    TooManyStreams,
}

/// What reading `now` of a stream amounts to after its reading `last`: an increase, a reset
/// (a monotonic part went down, or the start time changed), or a new baseline (another shape).
/// For the inputs that keep their last readings themselves.
pub fn compare(last: &Reading, now: &Reading) -> Change {
    if now.shape != last.shape || now.counts.len() != last.counts.len() {
        return Change::Rebased;
    }
    let restarted = matches!((last.start_ms, now.start_ms), (Some(a), Some(b)) if a != b);
    let went_down = now.counts.iter().zip(&last.counts).any(|(n, l)| n < l);
    if restarted || went_down {
        return Change::Reset(Delta { counts: now.counts.clone(), sum: now.sum });
    }
    let counts = now.counts.iter().zip(&last.counts).map(|(n, l)| n - l).collect();
    Change::Increase(Delta { counts, sum: now.sum - last.sum })
}

struct Stream {
    last: Reading,
    seen_ms: i64,
}

/// The last reading of each stream, bounded in count and in idle time.
pub struct Streams<K> {
    streams: HashMap<K, Stream, foldhash::fast::RandomState>,
    max_streams: usize,
    idle_ms: i64,
}

impl<K: Hash + Eq> Streams<K> {
    pub fn new(max_streams: usize, idle_ms: i64) -> Streams<K> {
        Streams { streams: HashMap::default(), max_streams, idle_ms }
    }

    /// Records `reading` as the stream's latest and says what it amounts to.
    pub fn observe(&mut self, key: K, reading: Reading, first: First, now_ms: i64) -> Change {
        let Some(stream) = self.streams.get_mut(&key) else {
            if self.streams.len() >= self.max_streams {
                return Change::TooManyStreams;
            }
            let change = match first {
                First::Baseline => Change::Baseline,
                First::FromZero => Change::Increase(Delta { counts: reading.counts.clone(), sum: reading.sum }),
            };
            self.streams.insert(key, Stream { last: reading, seen_ms: now_ms });
            return change;
        };
        stream.seen_ms = now_ms;
        let last = std::mem::replace(&mut stream.last, reading);
        compare(&last, &stream.last)
    }

    /// Forgets the streams not seen for `idle_ms` before `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.streams.len();
        let idle = self.idle_ms;
        self.streams.retain(|_, s| now_ms.saturating_sub(s.seen_ms) < idle);
        before - self.streams.len()
    }

    /// Forgets one stream (a series that disappeared from its target, say).
    pub fn forget(&mut self, key: &K) -> bool {
        self.streams.remove(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
#[path = "cumulative_tests.rs"]
mod tests;
