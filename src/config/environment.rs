//! The `[environment]` section: dimensions from where the sidecar runs (the ECS task, the
//! EC2 instance, the Kubernetes pod), detected once at startup. Off unless `detect` names a
//! detector; nothing is added that `dimensions` does not map.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{Deserializer, Error};
use serde::{Deserialize, Serialize};

use super::human::{self, Pairs, Text};
use super::listener::boolean;
use cw_core::domain::dimensions::DefaultDimensions;
use cw_core::environment::Detector;

/// Environment dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// The detectors to run at startup: `ecs` (the task metadata endpoint), `eks` (the
    /// downward API's variables), `ec2` (IMDSv2); `a,b` in env and flags, an array in the
    /// file. None by default.
    #[serde(deserialize_with = "detectors")]
    pub detect: Vec<String>,
    /// Dimension name to detected attribute (`TaskFamily = "ecs.task_family"`): a table in
    /// the file, `K=V,K=V` in env and flags. Each is added to every record like a default
    /// dimension, and multiplies the billed series.
    #[serde(deserialize_with = "mapping")]
    pub dimensions: BTreeMap<String, String>,
    /// Bound on the whole detection at startup (every detector at once), 100ms to 60s.
    #[serde(serialize_with = "human::print::duration", deserialize_with = "detect_timeout")]
    #[schemars(with = "String")]
    pub detect_timeout: Duration,
    /// Refuse to start when a detector fails or a mapped attribute has no value, instead of
    /// running without those dimensions.
    #[serde(deserialize_with = "boolean")]
    pub fail_on_missing: bool,
    /// Fall back to IMDSv1 (GETs without a token) when the token cannot be had.
    #[serde(deserialize_with = "boolean")]
    pub imds_v1_fallback: bool,
    /// Variable holding the pod's name (downward API `metadata.name`).
    #[serde(deserialize_with = "variable")]
    pub pod_name_env: String,
    /// Variable holding the pod's namespace (downward API `metadata.namespace`).
    #[serde(deserialize_with = "variable")]
    pub namespace_env: String,
    /// Variable holding the node's name (downward API `spec.nodeName`).
    #[serde(deserialize_with = "variable")]
    pub node_name_env: String,
}

impl Default for EnvironmentConfig {
    fn default() -> Self {
        EnvironmentConfig {
            detect: Vec::new(),
            dimensions: BTreeMap::new(),
            detect_timeout: Duration::from_secs(2),
            fail_on_missing: false,
            imds_v1_fallback: false,
            pod_name_env: "POD_NAME".into(),
            namespace_env: "POD_NAMESPACE".into(),
            node_name_env: "NODE_NAME".into(),
        }
    }
}

impl EnvironmentConfig {
    /// The detectors named, in their order (checked when loaded).
    pub fn detectors(&self) -> Vec<Detector> {
        self.detect.iter().filter_map(|d| Detector::parse(d)).collect()
    }
}

fn detectors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = human::strings(d, "detectors as a,b or an array of strings")?;
    let mut seen = Vec::new();
    for name in &names {
        if Detector::parse(name).is_none() {
            return Err(D::Error::custom(format!("`{name}` is not a detector; they are ecs, eks, ec2")));
        }
        if seen.contains(&name) {
            return Err(D::Error::custom(format!("`{name}` is named twice")));
        }
        seen.push(name);
    }
    Ok(names)
}

fn mapping<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let Pairs(map) = Pairs::deserialize(d)?;
    // The names must be dimension names; the attributes are checked against `detect` later.
    DefaultDimensions::new(&map).map_err(D::Error::custom)?;
    for (dimension, attribute) in &map {
        cw_core::environment::detectors_of(attribute)
            .map_err(|e| D::Error::custom(format!("dimension {dimension}: {e}")))?;
    }
    Ok(map)
}

fn detect_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    match human::duration(&s).map_err(D::Error::custom)? {
        t if (Duration::from_millis(100)..=Duration::from_secs(60)).contains(&t) => Ok(t),
        _ => Err(D::Error::custom("must be between 100ms and 60s")),
    }
}

fn variable<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(D::Error::custom("expected an environment variable's name (letters, digits, _)"));
    }
    Ok(s)
}
