//! Reading a catalog: the YAML (bounded), then its checks.

use super::check;
use super::error::CatalogError;
use super::model::Catalog;

/// The largest catalog read, in bytes.
pub const MAX_CATALOG_BYTES: usize = 1024 * 1024;

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
