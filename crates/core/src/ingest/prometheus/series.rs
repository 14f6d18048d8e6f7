//! The samples of a family grouped into series (labels without `le`/`quantile`), histogram
//! buckets made per-bucket readings, and the 0.0.4 `_created` gauges matched to their family.
//! Pure.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::ingest::cumulative::Reading;
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

/// The samples of a family grouped into series, in order of first appearance.
pub(super) fn group<'a, 's>(family: &'s Family<'a>, out: &mut Converted<'a>) -> Vec<Series<'a, 's>> {
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
        // A part given twice keeps its first value, as Prometheus does, and is counted.
        let mut duplicate = false;
        match (family.kind, suffix) {
            (_, "_created") => match one.created_ms {
                Some(_) => duplicate = true,
                None => one.created_ms = s.value.is_finite().then_some((s.value * 1000.0) as i64),
            },
            (Kind::Histogram, "_bucket") => match s.label("le").and_then(super::parse::parse_value) {
                Some(le) if one.buckets.iter().any(|b| b.0 == le || (b.0.is_nan() && le.is_nan())) => duplicate = true,
                Some(le) => one.buckets.push((le, s.value)),
                None => out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: bucket without `le`", s.name))),
            },
            (Kind::Histogram | Kind::Summary, "_sum") => duplicate = !keep_first(&mut one.sum, s.value),
            (Kind::Histogram | Kind::Summary, "_count") => duplicate = !keep_first(&mut one.count, s.value),
            (Kind::Summary, "") => {} // a quantile: not published
            (Kind::Counter, "" | "_total") | (Kind::Gauge | Kind::Untyped, "") => {
                duplicate = !keep_first(&mut one.value, s.value);
                one.first.get_or_insert(s);
            }
            _ => out.refuse(ScrapeRefusal::Malformed, Some(format!("{}: not a sample of its family", s.name))),
        }
        if duplicate {
            let what = format!("{}{{{}}}", s.name, readable_labels(&s.labels));
            out.refuse(ScrapeRefusal::Duplicate, Some(format!("{what}: duplicate sample (the first is kept)")));
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
/// when its buckets are not cumulative, or it has neither `+Inf` bucket nor `_count`, or no
/// `_sum`.
pub(super) fn histogram(series: &Series<'_, '_>, created_ms: Option<i64>) -> Option<(Vec<f64>, Reading)> {
    let mut buckets = series.buckets.clone();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.windows(2).any(|w| w[0].0 == w[1].0) || buckets.iter().any(|b| b.0.is_nan()) {
        return None;
    }
    // The `+Inf` bucket is the count. A `_count` read a moment apart from the buckets (a client
    // that does not snapshot them together) may differ from it: the buckets win, and the
    // difference is made up by the next scrape's increase.
    match (buckets.last(), series.count) {
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

/// Sets `slot` unless it holds a value already; whether it did not.
fn keep_first(slot: &mut Option<f64>, v: f64) -> bool {
    slot.is_none() && slot.replace(v).is_none()
}

/// Labels as `k="v",...`, for messages.
fn readable_labels(labels: &[(&str, Cow<'_, str>)]) -> String {
    labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect::<Vec<_>>().join(",")
}

/// Labels as one string, sorted.
pub(super) fn label_key(labels: &[(&str, Cow<'_, str>)]) -> String {
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
