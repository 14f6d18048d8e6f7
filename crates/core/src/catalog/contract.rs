//! The catalog as the sidecar enforces it: whether a record's metric, dimensions and unit are
//! declared, with a message naming the closest entry when they are not, and the metric rules
//! its dimension sets make (one source: the catalog, not a copy in `[[metrics]]`).

use std::collections::HashMap;

use glob::Pattern;

use super::error::closest;
use super::model::Catalog;
use crate::cost::rules::RuleSpec;
use crate::domain::units::Unit;
use crate::reasons::CatalogReason;

#[derive(Debug)]
struct Declared {
    unit: Unit,
    /// Sorted.
    dimensions: Vec<String>,
}

/// The declared metrics, by namespace and name.
#[derive(Debug)]
pub struct Contract {
    metrics: HashMap<(String, String), Declared>,
    /// The sidecar's default dimensions: allowed on every metric.
    defaults: Vec<String>,
}

/// A record the catalog does not declare: which rule, and a message that names the metric,
/// says what the catalog lacks and names the closest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    pub reason: CatalogReason,
    pub message: String,
}

impl Contract {
    /// `catalog` must be checked ([`super::parse`]).
    pub fn new(catalog: &Catalog, default_dimensions: impl IntoIterator<Item = String>) -> Contract {
        let mut metrics = HashMap::new();
        for m in &catalog.metrics {
            let Some(ns) = catalog.namespace_of(m.namespace.as_ref()) else { continue };
            let mut dimensions: Vec<String> = m.dimensions.iter().map(|d| d.value.clone()).collect();
            dimensions.sort();
            let unit = Unit::parse(&m.unit.value).unwrap_or_default();
            metrics.insert((ns.to_string(), m.name.value.clone()), Declared { unit, dimensions });
        }
        Contract { metrics, defaults: default_dimensions.into_iter().collect() }
    }

    /// How many metrics are declared.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// Whether a record of `name` in `namespace`, with `unit` and `dimensions`, is declared.
    /// A record without a unit (`None`) matches any declared unit.
    pub fn verdict(
        &self,
        namespace: &str,
        name: &str,
        unit: Unit,
        dimensions: &[(&str, &str)],
    ) -> Result<(), Undeclared> {
        let Some(declared) = self.metrics.get(&(namespace.to_string(), name.to_string())) else {
            let same_ns = self.metrics.keys().filter(|(ns, _)| ns == namespace).map(|(_, n)| n.as_str());
            let hint = match closest(name, same_ns) {
                Some(c) => format!("; the closest entry is `{c}`"),
                None => match closest(name, self.metrics.keys().map(|(_, n)| n.as_str())) {
                    Some(c) => {
                        let ns = self.metrics.keys().find(|(_, n)| n == c).map_or("", |(ns, _)| ns.as_str());
                        format!("; the closest entry is `{c}` in namespace `{ns}`")
                    }
                    None => "; it declares no metric".to_string(),
                },
            };
            return Err(Undeclared {
                reason: CatalogReason::Metric,
                message: format!("metric `{name}` in namespace `{namespace}`: the catalog does not declare it{hint}"),
            });
        };
        for (dim, _) in dimensions {
            let known = declared.dimensions.binary_search_by(|d| d.as_str().cmp(dim)).is_ok()
                || self.defaults.iter().any(|d| d == dim);
            if !known {
                let hint = match closest(dim, declared.dimensions.iter().map(String::as_str)) {
                    Some(c) => format!("; the closest entry is `{c}`"),
                    None => "; it declares none for this metric".to_string(),
                };
                return Err(Undeclared {
                    reason: CatalogReason::Dimension,
                    message: format!(
                        "metric `{name}` in namespace `{namespace}`: the catalog does not declare dimension `{dim}` for it{hint}"
                    ),
                });
            }
        }
        if unit != Unit::None && unit != declared.unit {
            return Err(Undeclared {
                reason: CatalogReason::Unit,
                message: format!(
                    "metric `{name}` in namespace `{namespace}`: the catalog declares unit `{}`, not `{}`",
                    declared.unit.as_str(),
                    unit.as_str()
                ),
            });
        }
        Ok(())
    }
}

/// The metric rules the catalog's dimension sets make: for each metric with
/// `dimension_sets`, exactly those series are published (rollups, the record's own series
/// dropped). Each with its label in `/metrics`: `catalog:<namespace>/<name>`.
pub fn rules(catalog: &Catalog) -> Vec<(String, RuleSpec)> {
    let mut out = Vec::new();
    for m in &catalog.metrics {
        let (Some(ns), Some(sets)) = (catalog.namespace_of(m.namespace.as_ref()), &m.dimension_sets) else { continue };
        let spec = RuleSpec {
            matches: Pattern::escape(&m.name.value),
            namespace: Some(Pattern::escape(ns)),
            drop_dimensions: Vec::new(),
            keep_dimensions: None,
            rollups: sets.iter().map(|s| s.value.clone()).collect(),
            drop_original: true,
        };
        out.push((format!("catalog:{ns}/{}", m.name.value), spec));
    }
    out
}
