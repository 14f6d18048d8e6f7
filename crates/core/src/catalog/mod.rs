//! The metric catalog (`metrics.yaml`): one file that declares the namespaces, every metric
//! (unit, kind, allowed dimensions, the dimension sets published, resolution, description),
//! the alarms and the dashboard. The sidecar enforces it ([`contract`], the admission
//! chain's catalog stage) and makes its metric rules of its dimension sets; Terraform renders
//! its alarms and dashboard from the same file.
//!
//! [`parse`] reads the YAML and checks it ([`check`]); every error names the line.

pub mod check;
pub mod contract;
pub mod model;

use std::fmt;

pub use model::{Alarm, AlarmKind, Catalog, Kind, Metric};
use serde_saphyr::Spanned;

/// The largest catalog read, in bytes.
pub const MAX_CATALOG_BYTES: usize = 1024 * 1024;

/// What is wrong with a catalog, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    /// 1-based; 0 when the error has no place (the file as a whole).
    pub line: u64,
    /// Where in the catalog, as `metrics[2].dimension_sets[0]`; empty for the file.
    pub path: String,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Reads and checks a catalog: every error found, each naming its line.
pub fn parse(text: &str) -> Result<Catalog, Vec<CatalogError>> {
    if text.len() > MAX_CATALOG_BYTES {
        return Err(vec![CatalogError {
            line: 0,
            path: String::new(),
            message: format!("the catalog is {} bytes: at most {MAX_CATALOG_BYTES} are read", text.len()),
        }]);
    }
    let catalog: Catalog = serde_saphyr::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let message = e.without_snippet().to_string();
        // The library's message may name the place itself; keep it to one line.
        let message = message.lines().next().unwrap_or_default().to_string();
        vec![CatalogError { line, path: String::new(), message }]
    })?;
    let errors = check::check(&catalog);
    if errors.is_empty() { Ok(catalog) } else { Err(errors) }
}

/// The line of a value of the file (0 when it came from a default).
pub fn line_of<T>(s: &Spanned<T>) -> u64 {
    match s.referenced.line() {
        0 => s.defined.line(),
        n => n,
    }
}

impl Catalog {
    /// The namespace of an entry that names `given`, or the only one.
    pub fn namespace_of<'a>(&'a self, given: Option<&'a Spanned<String>>) -> Option<&'a str> {
        match given {
            Some(ns) => Some(ns.value.as_str()),
            None if self.namespaces.len() == 1 => Some(self.namespaces[0].value.as_str()),
            None => None,
        }
    }

    /// The metric `name` of `namespace`.
    pub fn metric(&self, namespace: &str, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name.value == name && self.namespace_of(m.namespace.as_ref()) == Some(namespace))
    }
}

/// The entry of `candidates` closest to `wanted` (edit distance, ignoring case).
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted: Vec<char> = wanted.to_lowercase().chars().collect();
    candidates.into_iter().min_by_key(|c| distance(&wanted, &c.to_lowercase().chars().collect::<Vec<_>>()))
}

/// Levenshtein distance.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
