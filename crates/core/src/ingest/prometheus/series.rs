//! The samples of a family grouped into series (labels without `le`/`quantile`), histogram
//! buckets made per-bucket readings, and the 0.0.4 `_created` gauges matched to their family.
//! Pure.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use crate::ingest::prometheus::converted::Converted;
use crate::ingest::prometheus::parse::{Exposition, Family, Kind, Sample};
use crate::reasons::ScrapeRefusal;

/// One series of a family: its labels (without `le`/`quantile`) and its samples' parts.
#[derive(Default)]
pub(super) struct Series<'a, 's> {
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: Option<f64>,
    pub buckets: Vec<(f64, f64)>,
    pub sum: Option<f64>,
    pub count: Option<f64>,
    pub created_ms: Option<i64>,
    pub first: Option<&'s Sample<'a>>,
}

/// The samples of a family grouped into series, in order of first appearance. What a series
/// holds is gathered only when it is taken ([`Grouped::series`]): a family of many series costs
/// a few integers per sample while it is converted, not a copy of its samples and labels.
pub(super) struct Grouped<'a, 's> {
    family: &'s Family<'a>,
    skip: &'static str,
    /// Each series' first sample (its labels are the series').
    firsts: Vec<usize>,
    /// The samples kept (neither duplicates nor refused), by series, each series' in the order
    /// given; series `i`'s are `kept[starts[i]..starts[i + 1]]`.
    kept: Vec<usize>,
    starts: Vec<usize>,
}

/// Parts of a series seen so far, while grouping.
const VALUE: u8 = 1;
const SUM: u8 = 2;
const COUNT: u8 = 4;
const CREATED: u8 = 8;

/// The samples of a family grouped into series, in order of first appearance; what is
/// refused (duplicates, buckets without `le`, samples not of the family) is counted here, in
/// the order of the samples.
pub(super) fn group<'a, 's>(family: &'s Family<'a>, out: &mut Converted<'a>) -> Grouped<'a, 's> {
    let skip = match family.kind {
        Kind::Histogram => "le",
        Kind::Summary => "quantile",
        _ => "",
    };
    let samples = &family.samples;
    // A series is found by the hash of its label key, checked against its first sample's key
    // (the rare collision goes to `collided`, by the key itself).
    let hasher = RandomState::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut collided: HashMap<String, usize> = HashMap::new();
    let (mut key, mut other) = (String::new(), String::new());
    let mut firsts: Vec<usize> = Vec::new();
    let mut parts: Vec<u8> = Vec::new();
    // Histogram buckets seen, as (series, `le`), with `NaN`s and zeros each made one.
    let mut buckets: HashSet<(usize, u64)> = HashSet::new();
    // Each sample's series, or `usize::MAX` when it is not kept.
    let mut of: Vec<usize> = Vec::with_capacity(samples.len());
    for (j, s) in samples.iter().enumerate() {
        write_label_key(&s.labels, skip, &mut key);
        let new = firsts.len();
        let i = match index.entry(hasher.hash_one(key.as_bytes())) {
            Entry::Vacant(e) => *e.insert(new),
            Entry::Occupied(e) => {
                write_label_key(&samples[firsts[*e.get()]].labels, skip, &mut other);
                if other == key { *e.get() } else { *collided.entry(key.clone()).or_insert(new) }
            }
        };
        if i == new {
            firsts.push(j);
            parts.push(0);
        }
        let seen = &mut parts[i];
        let suffix = s.suffix(family.name);
        // A part given twice keeps its first value, as Prometheus does, and is counted.
        let mut duplicate = false;
        let mut kept = false;
        match (family.kind, suffix) {
            (_, "_created") => {
                if *seen & CREATED != 0 {
                    duplicate = true;
                } else if s.value.is_finite() {
                    *seen |= CREATED;
                    kept = true;
                }
            }
            (Kind::Histogram, "_bucket") => match s.label("le").and_then(super::parse::parse_value) {
                Some(le) => {
                    let le = if le.is_nan() { f64::NAN.to_bits() } else { (le + 0.0).to_bits() };
                    kept = buckets.insert((i, le));
                    duplicate = !kept;
                }
                None => out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: bucket without `le`", s.name))),
            },
            (Kind::Histogram | Kind::Summary, "_sum") => {
                kept = first_of(seen, SUM);
                duplicate = !kept;
            }
            (Kind::Histogram | Kind::Summary, "_count") => {
                kept = first_of(seen, COUNT);
                duplicate = !kept;
            }
            (Kind::Summary, "") => {} // a quantile: not published
            (Kind::Counter, "" | "_total") | (Kind::Gauge | Kind::Untyped, "") => {
                kept = first_of(seen, VALUE);
                duplicate = !kept;
            }
            _ => out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: not a sample of its family", s.name))),
        }
        if duplicate {
            let what = format!("{}{{{}}}", s.name, readable_labels(&s.labels));
            out.refuse(ScrapeRefusal::Duplicate, Some(format!("{what}: duplicate sample (the first is kept)")));
        }
        of.push(if kept { i } else { usize::MAX });
    }
    drop((index, collided, buckets, parts));
    // The kept samples by series, in order (a counting sort).
    let mut starts = vec![0usize; firsts.len() + 1];
    for &i in of.iter().filter(|&&i| i != usize::MAX) {
        starts[i + 1] += 1;
    }
    for i in 0..firsts.len() {
        starts[i + 1] += starts[i];
    }
    let mut next = starts[..firsts.len()].to_vec();
    let mut kept = vec![0usize; starts[firsts.len()]];
    for (j, &i) in of.iter().enumerate().filter(|(_, i)| **i != usize::MAX) {
        kept[next[i]] = j;
        next[i] += 1;
    }
    Grouped { family, skip, firsts, kept, starts }
}

impl<'a, 's> Grouped<'a, 's> {
    /// The series in order of first appearance, without those that have nothing to publish
    /// (a histogram without buckets and `_count`, a summary without `_count` and `_sum`, any
    /// other without a value).
    pub(super) fn series(&self) -> impl Iterator<Item = Series<'a, 's>> + '_ {
        (0..self.firsts.len()).filter_map(|i| self.one(i))
    }

    fn one(&self, i: usize) -> Option<Series<'a, 's>> {
        let family = self.family;
        let mut one = Series::default();
        for &j in &self.kept[self.starts[i]..self.starts[i + 1]] {
            let s = &family.samples[j];
            match (family.kind, s.suffix(family.name)) {
                (_, "_created") => one.created_ms = Some((s.value * 1000.0) as i64),
                (Kind::Histogram, "_bucket") => {
                    if let Some(le) = s.label("le").and_then(super::parse::parse_value) {
                        one.buckets.push((le, s.value));
                    }
                }
                (Kind::Histogram | Kind::Summary, "_sum") => one.sum = Some(s.value),
                (Kind::Histogram | Kind::Summary, "_count") => one.count = Some(s.value),
                _ => {
                    one.value = Some(s.value);
                    one.first = Some(s);
                }
            }
        }
        let publishable = match family.kind {
            Kind::Histogram => !one.buckets.is_empty() || one.count.is_some(),
            Kind::Summary => one.count.is_some() || one.sum.is_some(),
            _ => one.value.is_some(),
        };
        if !publishable {
            return None;
        }
        let labels = &family.samples[self.firsts[i]].labels;
        one.labels = labels.iter().filter(|(k, _)| *k != self.skip).cloned().collect();
        Some(one)
    }
}

/// Marks `part` seen; whether it was not before.
fn first_of(seen: &mut u8, part: u8) -> bool {
    let first = *seen & part == 0;
    *seen |= part;
    first
}

/// Labels as `k="v",...`, for messages.
fn readable_labels(labels: &[(&str, Cow<'_, str>)]) -> String {
    labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect::<Vec<_>>().join(",")
}

/// Labels as one string, sorted.
pub(super) fn label_key(labels: &[(&str, Cow<'_, str>)]) -> String {
    let mut key = String::new();
    write_label_key(labels, "", &mut key);
    key
}

/// [`label_key`] of the labels but `skip`, written over `key`.
fn write_label_key(labels: &[(&str, Cow<'_, str>)], skip: &str, key: &mut String) {
    key.clear();
    let mut sorted: Vec<_> = labels.iter().filter(|(k, _)| *k != skip).collect();
    sorted.sort();
    for (k, v) in sorted {
        key.push_str(k);
        key.push('\0');
        key.push_str(v);
        key.push('\0');
    }
}

pub(super) fn widest_label(family: &Family<'_>) -> Option<(String, usize)> {
    let mut values: HashMap<&str, HashSet<&str>> = HashMap::new();
    for s in &family.samples {
        for (k, v) in &s.labels {
            values.entry(k).or_default().insert(v.as_ref());
        }
    }
    values.into_iter().map(|(k, v)| (k.to_string(), v.len())).max_by_key(|(k, n)| (*n, std::cmp::Reverse(k.clone())))
}

/// `_created` samples of 0.0.4, where client libraries expose them as gauge families of their
/// own (`x_created` beside `x_total` or `x`): taken as their family's, not published.
#[derive(Default)]
pub(super) struct Created {
    pub skip: HashSet<usize>,
    /// (family name, label key) → milliseconds.
    values: HashMap<(String, String), i64>,
}

impl Created {
    pub(super) fn get(&self, family: &str, labels: &[(&str, Cow<'_, str>)]) -> Option<i64> {
        self.values.get(&(family.to_string(), label_key(labels))).copied()
    }
}

pub(super) fn created_families(exposition: &Exposition<'_>) -> Created {
    let mut created = Created::default();
    let owner = |base: &str| {
        exposition.families.iter().find(|f| {
            matches!(f.kind, Kind::Counter | Kind::Histogram | Kind::Summary)
                && (f.name == base || f.name.strip_suffix("_total") == Some(base))
        })
    };
    for (i, f) in exposition.families.iter().enumerate() {
        let Some(base) = f.name.strip_suffix("_created") else { continue };
        if !matches!(f.kind, Kind::Gauge | Kind::Untyped) {
            continue;
        }
        let Some(owner) = owner(base) else { continue };
        created.skip.insert(i);
        for s in &f.samples {
            if s.value.is_finite() {
                let labels: Vec<_> = s.labels.to_vec();
                created.values.insert((owner.name.to_string(), label_key(&labels)), (s.value * 1000.0) as i64);
            }
        }
    }
    created
}
