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

use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::domain::units::Unit;
use crate::ingest::cumulative::{Change, First, Reading};
pub use crate::ingest::prometheus::converted::{Converted, FamilyWarning};
use crate::ingest::prometheus::histogram;
use crate::ingest::prometheus::parse::{Exposition, Family, Kind};
use crate::ingest::prometheus::rules::{self, Rules};
use crate::ingest::prometheus::series::{Series, created_families, group, label_key, widest_label};
use crate::ingest::prometheus::state::{Full, Key, MAX_REMEMBERED};
pub use crate::ingest::prometheus::state::{MAX_STREAMS, TargetState};
use crate::pipeline::candidate::Candidate;
use crate::reasons::ScrapeRefusal;

/// A counter-like series' increase: name, dimensions, unit, value.
type Summed<'a> = (Cow<'a, str>, Vec<(Cow<'a, str>, Cow<'a, str>)>, Unit, f64);

/// Converts one exposition scraped at `now_ms`.
pub fn convert<'a>(state: &mut TargetState, rules: &Rules, exposition: &Exposition<'a>, now_ms: i64) -> Converted<'a> {
    let mut out = Converted::default();
    let created = created_families(exposition);
    let mut seen_streams: HashSet<Key> = HashSet::new();
    // The admitted series seen in this scrape (what is not admitted needs no place here).
    let mut seen_series: HashSet<Key> = HashSet::new();
    // Counter-like increases, summed per published series (series merged by dropped labels).
    let mut sums: Vec<Summed<'a>> = Vec::new();
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
        // The family's series keys are counted only while it may be warned about (once).
        let family_key = state.key(&[family.name]);
        let may_warn = state.warned.len() < MAX_REMEMBERED && !state.warned.contains(&family_key);
        let mut family_keys: HashSet<Key> = HashSet::new();
        let grouped = group(family, &mut out);
        for series in grouped.series() {
            let created_ms = series.created_ms.or_else(|| created.get(family.name, &series.labels));
            let skip = match family.kind {
                Kind::Histogram => Some("le"),
                Kind::Summary => Some("quantile"),
                _ => None,
            };
            let dims = rules::dimensions(rules, &series.labels, skip);
            let names = published_names(family, &series);
            let keys: Vec<String> = names.iter().map(|n| rules::series_key(n, &dims)).collect();
            if dims.len() > MAX_DIMENSIONS {
                let what = rules::readable(&keys[0]);
                out.refuse(
                    ScrapeRefusal::TooManyDimensions,
                    Some(format!("{what}: {} labels, CloudWatch takes at most {MAX_DIMENSIONS}", dims.len())),
                );
                continue;
            }
            let hashed: Vec<Key> = keys.iter().map(|k| state.key(&[k])).collect();
            if may_warn {
                family_keys.extend(hashed.iter().copied());
            }
            // The cap: a series keeps its place while it is scraped; new ones take free places
            // (a place frees at the end of the first scrape its series is missing from).
            let (mut admitted, mut bytes) = (true, true);
            for key in &hashed {
                if state.admitted.contains(key) {
                } else if state.admitted.len() >= rules.max_series {
                    admitted = false;
                } else if !state.room_for_series(rules.max_state_bytes) {
                    bytes = false;
                } else {
                    state.admitted.insert(*key);
                }
                if state.admitted.contains(key) {
                    seen_series.insert(*key);
                }
            }
            if !bytes {
                out.refuse(ScrapeRefusal::StateBytes, Some(format!("{}: state full", rules::readable(&keys[0]))));
                continue;
            }
            if !admitted {
                out.capped += 1;
                out.refuse(ScrapeRefusal::Capped, None);
                if state.logged.len() < MAX_REMEMBERED && state.logged.insert(hashed[0]) {
                    out.newly_capped += 1;
                    if out.capped_examples.len() < super::converted::EXAMPLES {
                        out.capped_examples.push(rules::readable(&keys[0]));
                    }
                }
                continue;
            }
            let kind = format!("{:?}", family.kind);
            let stream = state.key(&[family.name, &kind, &label_key(&series.labels)]);
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
                        name: Some(names[0].clone()),
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
                    seen_streams.insert(stream);
                    let reading = Reading { start_ms: created_ms, shape: 0, counts, sum };
                    let change = state.observe(stream, reading, first, now_ms, rules.max_state_bytes);
                    let Some(delta) = increase(&mut out, change) else {
                        continue;
                    };
                    let mut add = |(name, unit): (Cow<'a, str>, Unit), key: &String, v: f64| match sum_index.get(key) {
                        Some(&i) => sums[i].3 += v,
                        None => {
                            sum_index.insert(key.clone(), sums.len());
                            sums.push((name, dims.clone(), unit, v));
                        }
                    };
                    let mut parts = names.into_iter().zip(&keys);
                    if let Some((name, key)) = parts.next() {
                        add(
                            (name, if family.kind == Kind::Counter { unit } else { Unit::Count }),
                            key,
                            delta.counts[0],
                        );
                    }
                    if let Some((name, key)) = parts.next() {
                        add((name, unit), key, delta.sum);
                    }
                }
                Kind::Histogram => {
                    let Some((bounds, reading)) =
                        histogram::reading(&series.buckets, series.count, series.sum, created_ms)
                    else {
                        out.refuse(
                            ScrapeRefusal::Malformed,
                            Some(format!("{}: inconsistent buckets, _count or _sum", rules::readable(&keys[0]))),
                        );
                        continue;
                    };
                    seen_streams.insert(stream);
                    let change = state.observe(stream, reading, first, now_ms, rules.max_state_bytes);
                    let Some(delta) = increase(&mut out, change) else {
                        continue;
                    };
                    let Ok(values) = histogram::values(&bounds, &delta) else {
                        out.refuse(ScrapeRefusal::Malformed, None);
                        continue;
                    };
                    for values in values {
                        out.candidates.push(Candidate {
                            name: Some(names[0].clone()),
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
        drop(grouped);
        let series = family_keys.len();
        drop(family_keys);
        if may_warn && series > rules.family_series_warning {
            state.warned.insert(family_key);
            out.warnings.push(FamilyWarning {
                family: family.name.to_string(),
                series,
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
    state.forget_unseen(&seen_streams);
    state.previous_ms = Some(now_ms);
    out
}

/// The increase a change amounts to, counting what cannot be published.
fn increase(out: &mut Converted<'_>, change: Result<Change, Full>) -> Option<crate::ingest::cumulative::Delta> {
    match change {
        Ok(Change::Increase(d) | Change::Reset(d)) => Some(d),
        Ok(Change::Baseline | Change::Rebased) => None,
        Ok(Change::TooManyStreams) | Err(Full::Streams) => {
            out.refuse(ScrapeRefusal::StateFull, None);
            None
        }
        Err(Full::Bytes) => {
            out.refuse(ScrapeRefusal::StateBytes, None);
            None
        }
    }
}

/// The names a series is published under, with its sample parts: the family name for
/// gauges and histograms, the sample's name for counters (`x_total`), `_count` and `_sum` for
/// summaries.
fn published_names<'a>(family: &Family<'a>, series: &Series<'a, '_>) -> Vec<Cow<'a, str>> {
    match family.kind {
        Kind::Counter => {
            let name = series.first.map_or(family.name, |s| s.name);
            vec![Cow::Borrowed(name)]
        }
        Kind::Summary => {
            vec![Cow::Owned(format!("{}_count", family.name)), Cow::Owned(format!("{}_sum", family.name))]
        }
        _ => vec![Cow::Borrowed(family.name)],
    }
}
