//! One `deserialize_with` function per key that has a rule: it parses the human value and says
//! what is allowed. The layering adds the key and the layer to the message.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};

use super::human::{self, Pairs, Text};
use cw_core::domain::dimensions::DefaultDimensions;
use cw_core::domain::names::Namespace;
use serde::Serialize;

/// Parses a scalar given as text with `parse`, whose error says what is allowed.
fn text<'de, D: Deserializer<'de>, T>(d: D, parse: impl FnOnce(String) -> Result<T, String>) -> Result<T, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    parse(s).map_err(D::Error::custom)
}

fn namespace_or_empty(ns: String) -> Result<String, String> {
    if !ns.is_empty() {
        Namespace::parse(&ns).map_err(|e| e.to_string())?;
    }
    Ok(ns)
}

pub fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    text(d, |s| s.parse().map_err(|_| "expected an address such as 127.0.0.1:25889".to_string()))
}

/// Empty means none.
pub fn namespace<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, |s| Ok(Some(namespace_or_empty(s)?).filter(|ns| !ns.is_empty())))
}

pub fn self_metrics_namespace<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, namespace_or_empty)
}

pub fn default_dimensions<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let Pairs(map) = Pairs::deserialize(d)?;
    DefaultDimensions::new(&map).map_err(D::Error::custom)?;
    Ok(map)
}

pub fn flush_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| match human::duration(&s)? {
        d if d < Duration::from_secs(1) => Err("must be at least 1s".into()),
        d => Ok(d),
    })
}

pub fn window_grace<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| match human::duration(&s)? {
        d if d > Duration::from_secs(60) => Err("must be at most 60s".into()),
        d => Ok(d),
    })
}

pub fn shutdown_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| human::duration(&s))
}

pub fn publish_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| match human::duration(&s)? {
        d if d < Duration::from_millis(100) => Err("must be at least 100ms".into()),
        d => Ok(d),
    })
}

pub fn max_buffered_datums<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| Ok(human::count(&s, 1, 100_000_000)? as usize))
}

pub fn metric_series_warning<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| Ok(human::count(&s, 1, 100_000_000)? as usize))
}

pub fn max_put_requests_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    text(d, |s| Ok(human::count(&s, 1, 10_000)? as u32))
}

pub fn max_body_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (1024..=1024 * 1024 * 1024).contains(&n) => Ok(n as usize),
        _ => Err("must be between 1KiB and 1GiB".into()),
    })
}

pub fn max_body_bytes_in_flight<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (1024..=64 * 1024 * 1024 * 1024).contains(&n) => {
            usize::try_from(n).map_err(|_| "too large for this machine".to_string())
        }
        _ => Err("must be between 1KiB and 64GiB".into()),
    })
}

pub fn max_header_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| match human::size(&s)? {
        n if (1024..=1024 * 1024).contains(&n) => Ok(n as usize),
        _ => Err("must be between 1KiB and 1MiB".into()),
    })
}

pub fn max_connections<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    text(d, |s| Ok(human::count(&s, 1, 1_000_000)? as usize))
}

/// `header_read_timeout`, `body_read_timeout`, `idle_timeout`.
pub fn connection_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| match human::duration(&s)? {
        d if d < Duration::from_millis(100) => Err("must be at least 100ms".into()),
        d => Ok(d),
    })
}

pub fn log_format<'de, D: Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    text(d, |s| match s.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected text or json".into()),
    })
}

/// An empty token would turn authentication off without a word: refuse it.
pub fn auth_token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, |s| match s.is_empty() {
        true => Err("must not be empty (to turn authentication off, leave it unset)".into()),
        false => Ok(Some(s)),
    })
}

pub fn auth_token_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    text(d, |s| match s.is_empty() {
        true => Err("must name a file (to turn authentication off, leave it unset)".into()),
        false => Ok(Some(PathBuf::from(s))),
    })
}

pub fn integer_timestamps<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    text(d, |s| human::auto_bool(&s))
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human text, one event per line.
    #[default]
    Text,
    /// One JSON object per event and line, for log pipelines.
    Json,
}

pub fn catalog<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    text(d, |s| match s.is_empty() {
        true => Err("must name a file (to go without a catalog, leave it unset)".into()),
        false => Ok(Some(PathBuf::from(s))),
    })
}

pub fn catalog_mode<'de, D: Deserializer<'de>>(d: D) -> Result<CatalogMode, D::Error> {
    text(d, |s| match s.trim() {
        "strict" => Ok(CatalogMode::Strict),
        "lenient" => Ok(CatalogMode::Lenient),
        _ => Err("expected strict or lenient".into()),
    })
}

/// What becomes of a record the metric catalog does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CatalogMode {
    /// Rejected, the error naming the metric and the closest entry.
    #[default]
    Strict,
    /// Published, counted and logged once.
    Lenient,
}

impl From<CatalogMode> for cw_core::pipeline::admission::catalog::Mode {
    fn from(m: CatalogMode) -> Self {
        match m {
            CatalogMode::Strict => Self::Strict,
            CatalogMode::Lenient => Self::Lenient,
        }
    }
}
