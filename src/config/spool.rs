//! The `[spool]` section: an optional disk spool, so that what was acknowledged survives a
//! crash of the sidecar and an outage outlasts memory. Off unless `dir` is set.

use std::path::PathBuf;

use serde::de::{Deserializer, Error};
use serde::{Deserialize, Serialize};

use super::human::{self, Text};

/// When an acknowledgment waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncPolicy {
    /// Each acknowledgment waits for fsync; concurrent requests share one (group commit).
    /// Survives a crash of the machine.
    #[default]
    Always,
    /// Acknowledged once written to the file; fsync every second. Survives a crash or kill of
    /// the sidecar, not of the machine.
    Periodic,
}

/// The disk spool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the spool; off unless set. It should be a volume that outlives the
    /// sidecar's container (a task or pod volume), used by one sidecar at a time.
    #[serde(deserialize_with = "dir", skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Bound on the spool's files; ingest answers 503 (TCP stops reading) while it is
    /// reached. 1MiB to 1TiB.
    #[serde(serialize_with = "human::print::size", deserialize_with = "max_bytes")]
    #[schemars(with = "String")]
    pub max_bytes: usize,
    /// `always` (acknowledge after fsync, group-committed) or `periodic` (acknowledge after the
    /// write, fsync every second).
    #[serde(deserialize_with = "sync")]
    pub sync: SyncPolicy,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig { dir: None, max_bytes: 1024 * 1024 * 1024, sync: SyncPolicy::Always }
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Text::deserialize(d).map(|Text(s)| s)
}

fn dir<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let s = text(d)?;
    Ok((!s.trim().is_empty()).then(|| PathBuf::from(s)))
}

fn max_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match human::size(&text(d)?).map_err(D::Error::custom)? {
        n if (1 << 20..=1 << 40).contains(&n) => Ok(n as usize),
        _ => Err(D::Error::custom("must be between 1MiB and 1TiB")),
    }
}

fn sync<'de, D: Deserializer<'de>>(d: D) -> Result<SyncPolicy, D::Error> {
    match text(d)?.as_str() {
        "always" => Ok(SyncPolicy::Always),
        "periodic" => Ok(SyncPolicy::Periodic),
        _ => Err(D::Error::custom("expected `always` or `periodic`")),
    }
}
