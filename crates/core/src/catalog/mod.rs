//! The metric catalog (`metrics.yaml`): one file that declares the namespaces, every metric
//! (unit, kind, allowed dimensions, the dimension sets published, resolution, description),
//! the alarms and the dashboard. The sidecar enforces it ([`contract`], the admission
//! chain's catalog stage) and makes its metric rules of its dimension sets; Terraform renders
//! its alarms and dashboard from the same file.
//!
//! [`parse`] reads the YAML and checks it ([`check`]); every error names the line.

pub mod check;
pub mod contract;
pub mod error;
pub mod model;
mod parse;

pub use error::{CatalogError, closest, line_of};
pub use model::{Alarm, AlarmKind, Catalog, Kind, Metric};
pub use parse::{MAX_CATALOG_BYTES, parse};

#[cfg(test)]
mod tests;
