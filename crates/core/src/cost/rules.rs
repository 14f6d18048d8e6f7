//! Metric rules (`[[metrics]]`): for the metrics whose name (and namespace) match a glob,
//! which dimensions the series keeps, which rollups are published beside it, and whether the
//! series itself is published at all. Pure: a series' dimensions in, the dimension sets to
//! publish out.

use glob::Pattern;
use smallvec::SmallVec;

use crate::domain::limits::MAX_DIMENSIONS;

/// One rule as configured, before it is checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSpec {
    /// Glob on the metric name.
    pub matches: String,
    /// Glob on the namespace; any namespace when `None`.
    pub namespace: Option<String>,
    pub drop_dimensions: Vec<String>,
    pub keep_dimensions: Option<Vec<String>>,
    pub rollups: Vec<Vec<String>>,
    pub drop_original: bool,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct MetricRule {
    /// How `/metrics` names it: `metrics[<position>]`.
    pub label: String,
    name: Pattern,
    namespace: Option<Pattern>,
    drop: Vec<String>,
    keep: Option<Vec<String>>,
    /// Each set sorted by name, no set twice.
    rollups: Vec<Vec<String>>,
    drop_original: bool,
}

/// A rule that cannot be satisfied: the key (relative to the rule) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub key: &'static str,
    pub message: String,
}

fn error(key: &'static str, message: impl Into<String>) -> RuleError {
    RuleError { key, message: message.into() }
}

impl MetricRule {
    /// Checks `spec`, the rule at `position` of the file.
    pub fn new(position: usize, spec: RuleSpec) -> Result<MetricRule, RuleError> {
        let glob = |key, text: &str| {
            if text.is_empty() {
                return Err(error(key, "must not be empty"));
            }
            Pattern::new(text).map_err(|e| error(key, format!("not a glob pattern: {e}")))
        };
        let name = glob("match", &spec.matches)?;
        let namespace = spec.namespace.as_deref().map(|ns| glob("namespace", ns)).transpose()?;
        if let Some(keep) = &spec.keep_dimensions
            && let Some(both) = keep.iter().find(|k| spec.drop_dimensions.contains(k))
        {
            return Err(error(
                "keep_dimensions",
                format!("`{both}` is named in both drop_dimensions and keep_dimensions"),
            ));
        }
        let mut rollups: Vec<Vec<String>> = Vec::new();
        for set in spec.rollups {
            let mut set = set;
            set.sort();
            set.dedup();
            if set.len() > MAX_DIMENSIONS {
                return Err(error(
                    "rollups",
                    format!("a rollup names {} dimensions: CloudWatch takes at most {MAX_DIMENSIONS}", set.len()),
                ));
            }
            if let Some(empty) = set.iter().find(|d| d.is_empty()) {
                return Err(error("rollups", format!("a rollup names an empty dimension `{empty}`")));
            }
            if !rollups.contains(&set) {
                rollups.push(set);
            }
        }
        if spec.drop_original && rollups.is_empty() {
            return Err(error("drop_original", "drop_original = true with no rollups would publish nothing"));
        }
        Ok(MetricRule {
            label: format!("metrics[{position}]"),
            name,
            namespace,
            drop: spec.drop_dimensions,
            keep: spec.keep_dimensions,
            rollups,
            drop_original: spec.drop_original,
        })
    }

    /// How many rollups the rule makes.
    pub fn rollups(&self) -> usize {
        self.rollups.len()
    }

    fn matches(&self, namespace: &str, name: &str) -> bool {
        self.name.matches(name) && self.namespace.as_ref().is_none_or(|ns| ns.matches(namespace))
    }
}

/// A series' dimensions, sorted by name.
pub type Dims<'k> = SmallVec<[(&'k str, &'k str); 8]>;

/// What the rules make of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<'k> {
    /// No rule changes it.
    Unchanged,
    /// The dimension sets to publish instead; with `own`, the first is the series' own
    /// (its dimensions as the rules leave them), the rest rollups.
    Sets { own: bool, sets: Vec<Dims<'k>> },
}

/// Every rule, in file order, with the default dimensions' names (kept unless dropped).
#[derive(Debug, Clone, Default)]
pub struct MetricRules {
    rules: Vec<MetricRule>,
    defaults: Vec<String>,
}

impl MetricRules {
    pub fn new(rules: Vec<MetricRule>, default_dimensions: impl IntoIterator<Item = String>) -> MetricRules {
        MetricRules { rules, defaults: default_dimensions.into_iter().collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[MetricRule] {
        &self.rules
    }

    /// Applies every matching rule, in order, to a series of `namespace`/`name` with
    /// dimensions `dims` (sorted by name). `skipped(rule)` is told of each rollup a rule
    /// could not make because the series lacks one of its dimensions.
    pub fn apply<'k>(
        &self,
        namespace: &str,
        name: &str,
        dims: &[(&'k str, &'k str)],
        mut skipped: impl FnMut(&MetricRule),
    ) -> Outcome<'k> {
        let mut own: Option<Dims<'k>> = None;
        let mut publish_own = true;
        let mut rollups: SmallVec<[Dims<'k>; 2]> = SmallVec::new();
        for rule in self.rules.iter().filter(|r| r.matches(namespace, name)) {
            let kept = own.get_or_insert_with(|| dims.iter().copied().collect());
            kept.retain(|(k, _)| {
                let keep = rule
                    .keep
                    .as_ref()
                    .is_none_or(|keep| keep.iter().any(|n| n == k) || self.defaults.iter().any(|d| d == k));
                keep && !rule.drop.iter().any(|n| n == k)
            });
            publish_own &= !rule.drop_original;
            for set in &rule.rollups {
                // `dims` and `set` are both sorted by name.
                let picked: Dims<'k> =
                    dims.iter().copied().filter(|(k, _)| set.binary_search_by(|s| s.as_str().cmp(k)).is_ok()).collect();
                if picked.len() < set.len() {
                    skipped(rule);
                } else if !rollups.contains(&picked) {
                    rollups.push(picked);
                }
            }
        }
        let Some(own) = own else { return Outcome::Unchanged };
        if publish_own && rollups.is_empty() && own.len() == dims.len() {
            return Outcome::Unchanged;
        }
        let mut sets: Vec<Dims<'k>> = Vec::with_capacity(1 + rollups.len());
        if publish_own {
            sets.push(own);
        }
        for r in rollups {
            if !sets.contains(&r) {
                sets.push(r);
            }
        }
        Outcome::Sets { own: publish_own, sets }
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
