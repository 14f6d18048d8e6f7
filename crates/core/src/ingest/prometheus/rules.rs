//! What of a target is published: which families (include/exclude globs), which labels
//! (drop/keep), with what unit, and how many series at most. Pure.

use std::borrow::Cow;

use crate::domain::units::Unit;
use crate::ingest::prometheus::parse::Kind;

/// Runtime families client libraries expose by default, which nobody meant to pay for in
/// CloudWatch: excluded unless `exclude_runtime = false`.
pub const RUNTIME_EXCLUDES: &[&str] = &["go_*", "process_*", "python_gc_*", "python_info", "promhttp_*"];

/// The settings of `[scrape]` that decide what a scrape publishes.
#[derive(Debug, Clone)]
pub struct Rules {
    pub include: Vec<String>,
    /// The configured exclusions, plus [`RUNTIME_EXCLUDES`] unless turned off.
    pub exclude: Vec<String>,
    pub drop_labels: Vec<String>,
    pub keep_labels: Vec<String>,
    pub max_series: usize,
    /// The bytes a target's series state may hold (see [`super::state`]).
    pub max_state_bytes: usize,
    pub family_series_warning: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            include: vec!["*".into()],
            exclude: RUNTIME_EXCLUDES.iter().map(|s| s.to_string()).collect(),
            drop_labels: Vec::new(),
            keep_labels: Vec::new(),
            max_series: 1000,
            max_state_bytes: 8 * 1024 * 1024,
            family_series_warning: 100,
        }
    }
}

impl Rules {
    /// Whether a family is published: one of its names (the family's; for a counter also
    /// with `_total`) matches an include pattern, and none matches an exclude pattern.
    pub fn wants(&self, family: &str, kind: Kind) -> bool {
        match (kind == Kind::Counter && !family.ends_with("_total")).then(|| format!("{family}_total")) {
            Some(total) => self.wants_any(&[family, &total]),
            None => self.wants_any(&[family]),
        }
    }

    /// Whether something known by these names is published: one of them matches an include
    /// pattern, and none matches an exclude pattern.
    pub fn wants_any(&self, names: &[&str]) -> bool {
        let any = |patterns: &[String]| patterns.iter().any(|p| names.iter().any(|n| glob(p, n)));
        any(&self.include) && !any(&self.exclude)
    }

    /// Whether a label becomes a dimension (labels with an empty value never do: Prometheus
    /// treats them as absent).
    pub fn keeps(&self, label: &str, value: &str) -> bool {
        !value.is_empty()
            && !self.drop_labels.iter().any(|d| d == label)
            && (self.keep_labels.is_empty() || self.keep_labels.iter().any(|k| k == label))
    }
}

/// `*` matches any run of characters, `?` one character; everything else itself.
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The CloudWatch unit of a family: its OpenMetrics `# UNIT`, else its name's suffix
/// (`_seconds`, `_bytes`, ... before any `_total`), else `Count` for counters and `None`.
pub fn unit(family: &str, declared: Option<&str>, kind: Kind) -> Unit {
    let base = family.strip_suffix("_total").unwrap_or(family);
    let from = |u: &str| match u {
        "seconds" => Some(Unit::Seconds),
        "milliseconds" => Some(Unit::Milliseconds),
        "microseconds" => Some(Unit::Microseconds),
        "bytes" => Some(Unit::Bytes),
        "bits" => Some(Unit::Bits),
        "percent" => Some(Unit::Percent),
        "bytes_per_second" => Some(Unit::BytesPerSecond),
        _ => None,
    };
    if let Some(u) = declared.and_then(from) {
        return u;
    }
    let by_suffix = ["bytes_per_second", "seconds", "milliseconds", "microseconds", "bytes", "bits", "percent"]
        .iter()
        .find(|s| base.len() > s.len() && base.ends_with(*s) && base.as_bytes()[base.len() - s.len() - 1] == b'_')
        .and_then(|s| from(s));
    match (by_suffix, kind) {
        (Some(u), _) => u,
        (None, Kind::Counter) => Unit::Count,
        _ => Unit::None,
    }
}

/// The dimensions of a series: its labels that [`Rules::keeps`], without `skip` (`le` of a
/// histogram, `quantile` of a summary), sorted by name.
pub fn dimensions<'a>(
    rules: &Rules,
    labels: &[(&'a str, Cow<'a, str>)],
    skip: Option<&str>,
) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut dims: Vec<(Cow<'a, str>, Cow<'a, str>)> = labels
        .iter()
        .filter(|(k, v)| Some(*k) != skip && rules.keeps(k, v))
        .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
        .collect();
    dims.sort();
    dims
}

/// One string naming a published series: name and sorted dimensions.
pub fn series_key(name: &str, dims: &[(Cow<'_, str>, Cow<'_, str>)]) -> String {
    let mut key = String::with_capacity(name.len() + 16 * dims.len());
    key.push_str(name);
    for (k, v) in dims {
        key.push('\0');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key
}

/// A series key as people read it: `name{k="v",...}`.
pub fn readable(key: &str) -> String {
    let mut parts = key.split('\0');
    let name = parts.next().unwrap_or("");
    let labels: Vec<String> = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{k}=\"{v}\""),
            None => p.to_string(),
        })
        .collect();
    if labels.is_empty() { name.to_string() } else { format!("{name}{{{}}}", labels.join(",")) }
}
