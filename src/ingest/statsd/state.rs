//! StatsD's input-side state: the last value of each gauge series (for `+N`/`-N`), and the
//! members of each set per series and window. Both are bounded in count and in bytes: a
//! gauge series and a set member are known by a fixed-size keyed hash
//! ([`cw_core::ingest::key`]), never by their text, and what a set window must keep to be
//! submitted (its name, unit and tags) is charged to a byte budget.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use smallvec::SmallVec;

use cw_core::ingest::key::{Key, Keys};
use cw_core::ingest::statsd::{LineError, Metric, Sample};
use cw_core::reasons::LineReject;

type Fast = foldhash::fast::RandomState;

/// The window sets are counted in: the pipeline's standard resolution.
pub const SET_WINDOW_MS: i64 = 60_000;
/// Bounds on input-side state: gauge series (about 64 bytes each: 6.4 MB), set members over
/// all open set windows, and the bytes of the open windows with their members.
const MAX_GAUGES: usize = 100_000;
const MAX_SET_MEMBERS: usize = 1_000_000;
pub const MAX_SET_BYTES: usize = 64 * 1024 * 1024;
/// What a set member is charged (its key and the set's overhead per entry), and a window
/// besides its name, unit and tags.
const MEMBER_BYTES: usize = 32;
const WINDOW_BYTES: usize = 160;

/// Gauge series, and the series being looked up (its name, unit and sorted tags made in place
/// by [`series_key`], then hashed).
#[derive(Default)]
pub struct Gauges {
    series: HashMap<Key, GaugeState, Fast>,
    keys: Keys,
    key: Vec<u8>,
}

struct GaugeState {
    value: f64,
    last_ms: i64,
}

impl Gauges {
    /// Applies a gauge line to its series' last value; returns the value after each sample
    /// (inline: most lines have one).
    pub fn apply(
        &mut self,
        name: &str,
        unit: Option<&str>,
        m: &Metric<'_>,
        now: i64,
    ) -> Result<SmallVec<[f64; 1]>, LineError> {
        let Gauges { series, keys, key } = self;
        series_key(key, name, unit, &m.tags);
        let key = keys.of(&[key]);
        // A known series (most lines) costs one lookup.
        if let Some(state) = series.get_mut(&key) {
            return Ok(apply_gauge(state, m, now));
        }
        if series.len() >= MAX_GAUGES {
            if m.samples.iter().any(|s| matches!(s, Sample::Delta(_))) {
                return Err(LineError {
                    reason: LineReject::StateFull,
                    message: format!("{MAX_GAUGES} gauges are held already: a `+N`/`-N` needs the last value"),
                });
            }
            // Plain values need no state: publish them, remember nothing.
            return Ok(m.samples.iter().map(number).collect());
        }
        let state = series.entry(key).or_insert(GaugeState { value: 0.0, last_ms: now });
        Ok(apply_gauge(state, m, now))
    }

    /// Forgets the series without a line for `idle_ms` or more.
    pub fn forget_idle(&mut self, now: i64, idle_ms: i64) {
        self.series.retain(|_, g| now.saturating_sub(g.last_ms) < idle_ms);
    }
}

/// Open set windows, and the series being looked up.
pub struct Sets {
    /// (series, window start) → members.
    windows: HashMap<Key, OpenSet, Fast>,
    /// Members over all windows.
    pub members: usize,
    /// Bytes charged for the windows and their members.
    pub bytes: usize,
    max_bytes: usize,
    keys: Keys,
    key: Vec<u8>,
}

pub struct OpenSet {
    pub window: i64,
    pub name: String,
    pub unit: Option<String>,
    pub tags: Vec<(String, String)>,
    pub members: HashSet<Key, Fast>,
}

impl OpenSet {
    /// What the window is charged, with its members.
    fn bytes(&self) -> usize {
        let text = self.name.len() + self.unit.as_ref().map_or(0, String::len);
        let tags: usize = self.tags.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        WINDOW_BYTES + text + tags + self.members.len() * MEMBER_BYTES
    }
}

impl Default for Sets {
    fn default() -> Self {
        Sets::new(MAX_SET_BYTES)
    }
}

impl Sets {
    /// Open windows within `max_bytes` (and [`MAX_SET_MEMBERS`] members).
    pub fn new(max_bytes: usize) -> Sets {
        Sets { windows: HashMap::default(), members: 0, bytes: 0, max_bytes, keys: Keys::default(), key: Vec::new() }
    }

    /// Adds a set line's member to its series' window of `at_ms`.
    pub fn add(&mut self, name: &str, unit: Option<&str>, m: &Metric<'_>, at_ms: i64) -> Result<(), LineError> {
        let Some(Sample::Member(member)) = m.samples.first() else { return Ok(()) };
        let window = at_ms - at_ms.rem_euclid(SET_WINDOW_MS);
        let Sets { windows, members, bytes, max_bytes, keys, key } = self;
        series_key(key, name, unit, &m.tags);
        let key = keys.of(&[key, &window.to_le_bytes()]);
        let member = keys.of(&[member.as_bytes()]);
        let set = windows.get_mut(&key);
        if set.as_ref().is_some_and(|s| s.members.contains(&member)) {
            return Ok(());
        }
        let full = |what: String| Err(LineError { reason: LineReject::StateFull, message: what });
        if *members >= MAX_SET_MEMBERS {
            return full(format!("{MAX_SET_MEMBERS} set members are held already"));
        }
        let set = match set {
            Some(set) => set,
            None => {
                let open = OpenSet {
                    window,
                    name: name.to_string(),
                    unit: unit.map(str::to_string),
                    tags: m.tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                    members: HashSet::default(),
                };
                if *bytes + open.bytes() + MEMBER_BYTES > *max_bytes {
                    return full(format!("the open set windows hold their bound of {max_bytes} bytes already"));
                }
                *bytes += open.bytes();
                windows.entry(key).or_insert(open)
            }
        };
        if *bytes + MEMBER_BYTES > *max_bytes {
            return full(format!("the open set windows hold their bound of {max_bytes} bytes already"));
        }
        set.members.insert(member);
        *members += 1;
        *bytes += MEMBER_BYTES;
        Ok(())
    }

    /// Takes out the windows that have ended by `now` (all of them with `all`).
    pub fn take_ended(&mut self, now: i64, all: bool) -> Vec<(Key, OpenSet)> {
        let keys: Vec<Key> =
            self.windows.iter().filter(|(_, s)| all || s.window + SET_WINDOW_MS <= now).map(|(k, _)| *k).collect();
        let taken: Vec<_> = keys.into_iter().filter_map(|k| self.windows.remove_entry(&k)).collect();
        self.members -= taken.iter().map(|(_, s)| s.members.len()).sum::<usize>();
        self.bytes -= taken.iter().map(|(_, s)| s.bytes()).sum::<usize>();
        taken
    }

    /// Puts back windows taken out that could not be submitted.
    pub fn put_back(&mut self, ended: Vec<(Key, OpenSet)>) {
        for (key, set) in ended {
            self.members += set.members.len();
            self.bytes += set.bytes();
            self.windows.insert(key, set);
        }
    }
}

/// Applies a gauge line's samples to its series' state; the value after each.
fn apply_gauge(state: &mut GaugeState, m: &Metric<'_>, now: i64) -> SmallVec<[f64; 1]> {
    let mut out = SmallVec::with_capacity(m.samples.len());
    for s in &m.samples {
        state.value = match *s {
            Sample::Delta(d) => state.value + d,
            Sample::Number(v) => v,
            Sample::Member(_) => state.value,
        };
        out.push(state.value);
    }
    state.last_ms = now;
    out
}

pub(super) fn number(s: &Sample<'_>) -> f64 {
    match *s {
        Sample::Number(v) | Sample::Delta(v) => v,
        Sample::Member(_) => 0.0,
    }
}

/// Name, unit and tags sorted by name, each part length-prefixed (so no text can run into
/// the next); the tags' order as given does not matter.
pub(super) fn series_key(key: &mut Vec<u8>, name: &str, unit: Option<&str>, tags: &[(Cow<'_, str>, Cow<'_, str>)]) {
    fn part(key: &mut Vec<u8>, s: &str) {
        key.extend_from_slice(&(s.len() as u32).to_le_bytes());
        key.extend_from_slice(s.as_bytes());
    }
    key.clear();
    part(key, name);
    part(key, unit.unwrap_or(""));
    // Most lines carry a tag or none: nothing to sort.
    if let [(k, v)] = tags {
        part(key, k);
        part(key, v);
    } else if !tags.is_empty() {
        let mut sorted: SmallVec<[&(Cow<'_, str>, Cow<'_, str>); 8]> = tags.iter().collect();
        sorted.sort_unstable();
        for (k, v) in sorted {
            part(key, k);
            part(key, v);
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
