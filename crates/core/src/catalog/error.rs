//! A catalog's errors, each with its line, and the closest entry a misspelt name meant.

use std::fmt;

use serde_saphyr::Spanned;

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

/// The line of a value of the file (0 when it came from a default).
pub fn line_of<T>(s: &Spanned<T>) -> u64 {
    match s.referenced.line() {
        0 => s.defined.line(),
        n => n,
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
