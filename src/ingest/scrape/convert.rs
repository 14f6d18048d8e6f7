//! One target's exposition → candidates, with the target's state between scrapes. Pure: the
//! scraper gives the parsed exposition and the time, and submits, logs and counts what comes
//! back.
//!
//! - Gauges and untyped samples are published as they are.
//! - Counters are published as their increase since the previous scrape (the first scrape only
//!   sets the baseline; a decrease or a new `_created` is a reset; a series that appears after
//!   the first scrape with a `_created` after the previous scrape counts from zero).
//! - Histograms: per-bucket counts are differences of neighbouring `le` buckets; their increases
//!   since the previous scrape become values and counts (a representative value per bucket),
//!   with `_count` and `_sum` increases so that SampleCount and Sum are exact.
//! - Summaries: quantiles cannot be re-aggregated and are not published; `_count` and `_sum`
//!   are published as counters (increases) of their own.
//! - A series missing from a scrape stops being published: its state is forgotten and its
//!   place under the cap freed.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::domain::units::Unit;
use crate::ingest::buckets;
use crate::ingest::cumulative::{Change, First, Reading, Streams};
use crate::ingest::scrape::parse::{Exposition, Family, Kind, Sample};
use crate::ingest::scrape::rules::{self, Rules};
use crate::pipeline::candidate::Candidate;
use crate::telemetry::reasons::ScrapeRefusal;

/// Bound on the cumulative streams kept per target (series before labels are dropped).
pub const MAX_STREAMS: usize = 100_000;
/// Bound on the series keys remembered per target for logging once (capped series, families).
const MAX_REMEMBERED: usize = 10_000;

/// A target's state between scrapes.
pub struct TargetState {
    streams: Streams<String>,
    /// The keys of `streams`.
    known: HashSet<String>,
    /// The series published under the cap, in order of admission.
    admitted: HashSet<String>,
    /// Capped series already logged.
    logged: HashSet<String>,
    /// Families already warned about.
    warned: HashSet<String>,
    /// When the previous scrape started; none before the first.
    previous_ms: Option<i64>,
}

impl Default for TargetState {
    fn default() -> Self {
        TargetState {
            streams: Streams::new(MAX_STREAMS, i64::MAX),
            known: HashSet::new(),
            admitted: HashSet::new(),
            logged: HashSet::new(),
            warned: HashSet::new(),
            previous_ms: None,
        }
    }
}

/// A family that crossed `family_series_warning`, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyWarning {
    pub family: String,
    pub series: usize,
    /// Its label with the most distinct values, and how many.
    pub widest_label: Option<(String, usize)>,
}

/// What one scrape amounts to.
#[derive(Debug, Default)]
pub struct Converted<'a> {
    pub candidates: Vec<Candidate<'a>>,
    /// Series published (admitted under the cap and seen in this scrape).
    pub published: usize,
    /// Series the cap refused in this scrape.
    pub capped: usize,
    /// Series refused, by reason (each capped series counts once per scrape).
    pub refused: Vec<(ScrapeRefusal, usize)>,
    /// Capped series not logged before (readable).
    pub newly_capped: Vec<String>,
    /// Series refused for more than 30 dimensions, and why (readable), to log.
    pub problems: Vec<String>,
    pub warnings: Vec<FamilyWarning>,
}

impl Converted<'_> {
    fn refuse(&mut self, reason: ScrapeRefusal, problem: Option<String>) {
        match self.refused.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.refused.push((reason, 1)),
        }
        if let Some(p) = problem.filter(|_| self.problems.len() < 20) {
            self.problems.push(p);
        }
    }

    #[cfg(test)]
    pub fn refused(&self, reason: ScrapeRefusal) -> usize {
        self.refused.iter().find(|(r, _)| *r == reason).map_or(0, |(_, n)| *n)
    }
}

/// One series of a family: its labels (without `le`/`quantile`) and its samples' parts.
#[derive(Default)]
struct Series<'a, 's> {
    labels: Vec<(&'a str, Cow<'a, str>)>,
    value: Option<f64>,
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    created_ms: Option<i64>,
    first: Option<&'s Sample<'a>>,
}

/// Converts one exposition scraped at `now_ms`.
pub fn convert<'a>(state: &mut TargetState, rules: &Rules, exposition: &Exposition<'a>, now_ms: i64) -> Converted<'a> {
    let mut out = Converted::default();
    let created = created_families(exposition);
    let mut seen_streams: HashSet<String> = HashSet::new();
    let mut seen_series: HashSet<String> = HashSet::new();
    // Counter-like increases, summed per published series (series merged by dropped labels).
    let mut sums: Vec<(Cow<'a, str>, Vec<(Cow<'a, str>, Cow<'a, str>)>, Unit, f64)> = Vec::new();
    let mut sum_index: HashMap<String, usize> = HashMap::new();
    for (fi, family) in exposition.families.iter().enumerate() {
        if family.samples.is_empty() || created.skip.contains(&fi) || !rules.wants(family.name, family.kind) {
            continue;
        }
        if family.kind == Kind::Other {
            family.samples.iter().for_each(|_| out.refuse(ScrapeRefusal::Unsupported, None));
            continue;
        }
        let unit = rules::unit(family.name, family.unit, family.kind);
        let mut family_keys: HashSet<String> = HashSet::new();
        for series in group(family, &mut out) {
            let created_ms = series.created_ms.or_else(|| created.get(family.name, &series.labels));
            let skip = match family.kind {
                Kind::Histogram => Some("le"),
                Kind::Summary => Some("quantile"),
                _ => None,
            };
            let dims = rules::dimensions(rules, &series.labels, skip);
            let names = published_names(family, &series);
            let keys: Vec<String> = names.iter().map(|(n, _)| rules::series_key(n, &dims)).collect();
            if dims.len() > MAX_DIMENSIONS {
                let what = rules::readable(&keys[0]);
                out.refuse(
                    ScrapeRefusal::TooManyDimensions,
                    Some(format!("{what}: {} labels, CloudWatch takes at most {MAX_DIMENSIONS}", dims.len())),
                );
                continue;
            }
            family_keys.extend(keys.iter().cloned());
            // The cap: a series keeps its place while it is scraped; new ones take free places
            // (a place frees at the end of the first scrape its series is missing from).
            let mut admitted = true;
            for key in &keys {
                if !state.admitted.contains(key) && state.admitted.len() >= rules.max_series {
                    admitted = false;
                } else {
                    state.admitted.insert(key.clone());
                }
                seen_series.insert(key.clone());
            }
            if !admitted {
                out.capped += 1;
                out.refuse(ScrapeRefusal::Capped, None);
                if state.logged.len() < MAX_REMEMBERED && state.logged.insert(keys[0].clone()) {
                    out.newly_capped.push(rules::readable(&keys[0]));
                }
                continue;
            }
            let stream = format!("{}\0{:?}\0{}", family.name, family.kind, label_key(&series.labels));
            let first = match (state.previous_ms, created_ms) {
                (Some(previous), Some(c)) if c >= previous => First::FromZero,
                _ => First::Baseline,
            };
            let time = Some(GivenTime::EpochMillis(now_ms));
            match family.kind {
                Kind::Gauge | Kind::Untyped => {
                    let value = series.value.unwrap_or(f64::NAN);
                    if !value.is_finite() {
                        out.refuse(ScrapeRefusal::Value, Some(format!("{}: {value}", rules::readable(&keys[0]))));
                        continue;
                    }
                    out.candidates.push(Candidate {
                        name: Some(names[0].0.clone()),
                        unit: Some(Cow::Borrowed(unit.as_str())),
                        dimensions: dims.iter().cloned().collect(),
                        timestamp: time,
                        values: GivenValues { value: Some(value), ..GivenValues::default() },
                        ..Candidate::default()
                    });
                }
                Kind::Counter | Kind::Summary => {
                    let (counts, sum) = match family.kind {
                        Kind::Counter => (vec![series.value.unwrap_or(f64::NAN)], 0.0),
                        _ => (vec![series.count.unwrap_or(f64::NAN)], series.sum.unwrap_or(f64::NAN)),
                    };
                    if !sum.is_finite() || counts.iter().any(|v| !v.is_finite() || *v < 0.0) {
                        out.refuse(ScrapeRefusal::Value, Some(format!("{}: not a count", rules::readable(&keys[0]))));
                        continue;
                    }
                    seen_streams.insert(stream.clone());
                    let reading = Reading { start_ms: created_ms, shape: 0, counts, sum };
                    let Some(delta) = increase(&mut out, state.streams.observe(stream, reading, first, now_ms)) else {
                        continue;
                    };
                    let mut add = |(name, unit): (Cow<'a, str>, Unit), key: &String, v: f64| {
                        match sum_index.get(key) {
                            Some(&i) => sums[i].3 += v,
                            None => {
                                sum_index.insert(key.clone(), sums.len());
                                sums.push((name, dims.clone(), unit, v));
                            }
                        }
                    };
                    let mut parts = names.into_iter().zip(&keys);
                    if let Some((name, key)) = parts.next() {
                        add((name.0, if family.kind == Kind::Counter { unit } else { Unit::Count }), key, delta.counts[0]);
                    }
                    if let Some((name, key)) = parts.next() {
                        add((name.0, unit), key, delta.sum);
                    }
                }
                Kind::Histogram => {
                    let Some((bounds, reading)) = histogram(&series, created_ms) else {
                        out.refuse(
                            ScrapeRefusal::Malformed,
                            Some(format!("{}: inconsistent buckets, _count or _sum", rules::readable(&keys[0]))),
                        );
                        continue;
                    };
                    seen_streams.insert(stream.clone());
                    let Some(delta) = increase(&mut out, state.streams.observe(stream, reading, first, now_ms)) else {
                        continue;
                    };
                    if delta.counts[0] <= 0.0 {
                        continue;
                    }
                    let Ok(pairs) = buckets::explicit(&bounds, &delta.counts[1..], delta.sum, None, None) else {
                        out.refuse(ScrapeRefusal::Malformed, None);
                        continue;
                    };
                    for values in buckets::given_values(&pairs) {
                        out.candidates.push(Candidate {
                            name: Some(names[0].0.clone()),
                            unit: Some(Cow::Borrowed(unit.as_str())),
                            dimensions: dims.iter().cloned().collect(),
                            timestamp: time.clone(),
                            values,
                            ..Candidate::default()
                        });
                    }
                }
                Kind::Other => {}
            }
        }
        if family_keys.len() > rules.family_series_warning
            && state.warned.len() < MAX_REMEMBERED
            && state.warned.insert(family.name.to_string())
        {
            out.warnings.push(FamilyWarning {
                family: family.name.to_string(),
                series: family_keys.len(),
                widest_label: widest_label(family),
            });
        }
    }
    for (name, dims, unit, value) in sums {
        out.candidates.push(Candidate {
            name: Some(name),
            unit: Some(Cow::Borrowed(unit.as_str())),
            dimensions: dims.into_iter().collect(),
            timestamp: Some(GivenTime::EpochMillis(now_ms)),
            values: GivenValues { value: Some(value), ..GivenValues::default() },
            ..Candidate::default()
        });
    }
    // What disappeared stops being published: its state goes, its place under the cap frees.
    state.admitted.retain(|k| seen_series.contains(k));
    out.published = state.admitted.len();
    state.forget_unseen(seen_streams);
    state.previous_ms = Some(now_ms);
    out
}

impl TargetState {
    /// Forgets the streams not seen in this scrape.
    fn forget_unseen(&mut self, seen: HashSet<String>) {
        for k in self.known.difference(&seen) {
            self.streams.forget(k);
        }
        self.known = seen;
    }

    /// How many cumulative streams are held.
    #[cfg(test)]
    pub fn streams(&self) -> usize {
        self.streams.len()
    }
}

/// The increase a change amounts to, counting what cannot be published.
fn increase(out: &mut Converted<'_>, change: Change) -> Option<crate::ingest::cumulative::Delta> {
    match change {
        Change::Increase(d) | Change::Reset(d) => Some(d),
        Change::Baseline | Change::Rebased => None,
        Change::TooManyStreams => {
            out.refuse(ScrapeRefusal::StateFull, None);
            None
        }
    }
}

/// The names a series is published under, with its sample parts: the family name for
/// gauges and histograms, the sample's name for counters (`x_total`), `_count` and `_sum` for
/// summaries.
fn published_names<'a>(family: &Family<'a>, series: &Series<'a, '_>) -> Vec<(Cow<'a, str>, ())> {
    match family.kind {
        Kind::Counter => {
            let name = series.first.map_or(family.name, |s| s.name);
            vec![(Cow::Borrowed(name), ())]
        }
        Kind::Summary => {
            vec![(Cow::Owned(format!("{}_count", family.name)), ()), (Cow::Owned(format!("{}_sum", family.name)), ())]
        }
        _ => vec![(Cow::Borrowed(family.name), ())],
    }
}

/// The samples of a family grouped into series, in order of first appearance.
fn group<'a, 's>(family: &'s Family<'a>, out: &mut Converted<'a>) -> Vec<Series<'a, 's>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series<'a, 's>> = Vec::new();
    let skip = match family.kind {
        Kind::Histogram => "le",
        Kind::Summary => "quantile",
        _ => "",
    };
    for s in &family.samples {
        let labels: Vec<(&'a str, Cow<'a, str>)> = s.labels.iter().filter(|(k, _)| *k != skip).cloned().collect();
        let key = label_key(&labels);
        let i = *index.entry(key).or_insert_with(|| {
            series.push(Series { labels, ..Series::default() });
            series.len() - 1
        });
        let one = &mut series[i];
        let suffix = s.suffix(family.name);
        match (family.kind, suffix) {
            (_, "_created") => one.created_ms = s.value.is_finite().then(|| (s.value * 1000.0) as i64),
            (Kind::Histogram, "_bucket") => match s.label("le").and_then(super::parse::parse_value) {
                Some(le) => one.buckets.push((le, s.value)),
                None => out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: bucket without `le`", s.name))),
            },
            (Kind::Histogram | Kind::Summary, "_sum") => one.sum = Some(s.value),
            (Kind::Histogram | Kind::Summary, "_count") => one.count = Some(s.value),
            (Kind::Summary, "") => {} // a quantile: not published
            (Kind::Counter, "" | "_total") | (Kind::Gauge | Kind::Untyped, "") => {
                if one.value.replace(s.value).is_some() {
                    out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: the same series twice", s.name)));
                }
                one.first.get_or_insert(s);
            }
            _ => out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: not a sample of its family", s.name))),
        }
    }
    series.retain(|s| match family.kind {
        Kind::Histogram => !s.buckets.is_empty() || s.count.is_some(),
        Kind::Summary => s.count.is_some() || s.sum.is_some(),
        _ => s.value.is_some(),
    });
    series
}

/// A histogram series as finite bounds and a reading `[count, per-bucket counts...]`; none
/// when its buckets are not cumulative or disagree with `_count`.
fn histogram(series: &Series<'_, '_>, created_ms: Option<i64>) -> Option<(Vec<f64>, Reading)> {
    let mut buckets = series.buckets.clone();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.windows(2).any(|w| w[0].0 == w[1].0) || buckets.iter().any(|b| b.0.is_nan()) {
        return None;
    }
    match (buckets.last(), series.count) {
        (Some(&(le, v)), Some(count)) if le == f64::INFINITY && v != count => return None,
        (Some(&(le, _)), _) if le == f64::INFINITY => {}
        (_, Some(count)) => buckets.push((f64::INFINITY, count)),
        (_, None) => return None,
    }
    let count = buckets.last()?.1;
    let sum = series.sum?;
    if !sum.is_finite() || buckets.iter().any(|b| !b.1.is_finite() || b.1 < 0.0) {
        return None;
    }
    let mut counts = Vec::with_capacity(buckets.len() + 1);
    counts.push(count);
    let mut below = 0.0;
    for &(_, cumulative) in &buckets {
        if cumulative < below {
            return None;
        }
        counts.push(cumulative - below);
        below = cumulative;
    }
    let bounds: Vec<f64> = buckets[..buckets.len() - 1].iter().map(|b| b.0).collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bounds.iter().for_each(|b| b.to_bits().hash(&mut h));
    Some((bounds, Reading { start_ms: created_ms, shape: h.finish(), counts, sum }))
}

/// Labels as one string, sorted.
fn label_key(labels: &[(&str, Cow<'_, str>)]) -> String {
    let mut sorted: Vec<_> = labels.iter().collect();
    sorted.sort();
    let mut key = String::new();
    for (k, v) in sorted {
        key.push_str(k);
        key.push('\0');
        key.push_str(v);
        key.push('\0');
    }
    key
}

fn widest_label(family: &Family<'_>) -> Option<(String, usize)> {
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
struct Created {
    skip: HashSet<usize>,
    /// (family name, label key) → milliseconds.
    values: HashMap<(String, String), i64>,
}

impl Created {
    fn get(&self, family: &str, labels: &[(&str, Cow<'_, str>)]) -> Option<i64> {
        self.values.get(&(family.to_string(), label_key(labels))).copied()
    }
}

fn created_families(exposition: &Exposition<'_>) -> Created {
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
