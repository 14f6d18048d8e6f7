//! Detection of where the sidecar runs, once at startup: each detector of
//! `[environment] detect` asks its source (the ECS task metadata endpoint, IMDSv2, the
//! downward API's variables), all at once and within `detect_timeout`; what they found is
//! mapped onto the dimensions `[environment] dimensions` names, which are then added like
//! the default dimensions. A detector that fails is logged and counted, and the sidecar runs
//! without its dimensions, unless `fail_on_missing`.

use std::collections::BTreeMap;
use std::time::Duration;

use cw_core::environment::{self as env, Attributes, Detector, ec2, ecs};
use cw_core::reasons::DetectOutcome;

use crate::config::EnvironmentConfig;

mod fetch;

use fetch::Fetch;

/// Reads one environment variable (the process's, or a test's).
pub type Lookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Bound on each request to a metadata endpoint, within the overall `detect_timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// The IMDSv2 token's lifetime asked for (it is used at once, then never again).
const TOKEN_TTL_SECONDS: &str = "60";

/// What one detector came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub detector: Detector,
    pub outcome: DetectOutcome,
    /// Why it failed.
    pub error: Option<String>,
}

/// What detection found.
#[derive(Debug, Clone, Default)]
pub struct Detection {
    /// The dimensions to add: the mapped attributes that have a value.
    pub dimensions: BTreeMap<String, String>,
    pub outcomes: Vec<Outcome>,
    /// Mapped (dimension, attribute) pairs no detector gave a value for.
    pub missing: Vec<(String, String)>,
}

impl Detection {
    /// Why the sidecar must not start under `fail_on_missing`, if it must not.
    pub fn incomplete(&self) -> Option<String> {
        let mut why: Vec<String> = self
            .outcomes
            .iter()
            .filter(|o| o.outcome != DetectOutcome::Detected)
            .map(|o| format!("detector {} {}", o.detector.name(), o.error.as_deref().unwrap_or("failed")))
            .collect();
        why.extend(self.missing.iter().map(|(d, a)| format!("dimension {d}: no value for {a}")));
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// Runs every detector of `config`, all at once, within `detect_timeout`.
pub async fn detect(config: &EnvironmentConfig, lookup: Lookup<'_>) -> Detection {
    let detectors = config.detectors();
    let timeout = config.detect_timeout;
    let fetch = Fetch::new(REQUEST_TIMEOUT.min(timeout), ecs::MAX_TASK_DOCUMENT_BYTES.max(ec2::MAX_ANSWER_BYTES));
    let runs = detectors.iter().map(|&d| {
        let fetch = &fetch;
        async move {
            let run = run(d, config, lookup, fetch);
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok(attributes)) => {
                    (Outcome { detector: d, outcome: DetectOutcome::Detected, error: None }, attributes)
                }
                Ok(Err(e)) => {
                    (Outcome { detector: d, outcome: DetectOutcome::Failed, error: Some(e) }, Attributes::new())
                }
                Err(_) => {
                    let error =
                        format!("did not finish within detect_timeout ({})", humantime::format_duration(timeout));
                    (Outcome { detector: d, outcome: DetectOutcome::TimedOut, error: Some(error) }, Attributes::new())
                }
            }
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let attributes = env::merge(results.iter().map(|(_, a)| a));
    let (mut dimensions, mut missing) = env::dimensions(&config.dimensions, &attributes);
    // A value CloudWatch would refuse as a dimension (too long, control characters) is left
    // out like a missing one, never a reason for every record to fail.
    dimensions.retain(|name, value| {
        let one = BTreeMap::from([(name.clone(), value.clone())]);
        let valid = cw_core::domain::dimensions::DefaultDimensions::new(&one).is_ok();
        if !valid {
            missing.push((name.clone(), config.dimensions[name].clone()));
        }
        valid
    });
    Detection { dimensions, outcomes: results.into_iter().map(|(o, _)| o).collect(), missing }
}

async fn run(d: Detector, config: &EnvironmentConfig, lookup: Lookup<'_>, fetch: &Fetch) -> Result<Attributes, String> {
    match d {
        Detector::Ecs => detect_ecs(lookup, fetch).await,
        Detector::Ec2 => detect_ec2(config.imds_v1_fallback, lookup, fetch).await,
        Detector::Eks => {
            env::k8s_attributes([&config.pod_name_env, &config.namespace_env, &config.node_name_env], lookup)
        }
    }
}

/// `${ECS_CONTAINER_METADATA_URI_V4}/task`, else v3's `${ECS_CONTAINER_METADATA_URI}/task`.
async fn detect_ecs(lookup: Lookup<'_>, fetch: &Fetch) -> Result<Attributes, String> {
    let endpoints: Vec<String> = ["ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI"]
        .iter()
        .filter_map(|v| lookup(v).filter(|u| !u.trim().is_empty()))
        .collect();
    if endpoints.is_empty() {
        return Err(
            "neither ECS_CONTAINER_METADATA_URI_V4 nor ECS_CONTAINER_METADATA_URI is set: not in an ECS task".into()
        );
    }
    let mut errors = Vec::new();
    for base in endpoints {
        let url = format!("{}/task", base.trim().trim_end_matches('/'));
        match fetch.request("GET", &url, &[]).await {
            Ok(a) if a.status == 200 => return ecs::task_attributes(&a.body),
            Ok(a) => errors.push(format!("GET {url}: answered {}", a.status)),
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("; "))
}

/// IMDSv2: a token from `PUT /latest/api/token`, then the identity document with it. IMDSv1
/// (the GET without a token) only when `v1_fallback`.
async fn detect_ec2(v1_fallback: bool, lookup: Lookup<'_>, fetch: &Fetch) -> Result<Attributes, String> {
    let base = ec2::endpoint(lookup("AWS_EC2_METADATA_SERVICE_ENDPOINT").as_deref());
    let token_url = format!("{base}{}", ec2::TOKEN_PATH);
    let token = match fetch.request("PUT", &token_url, &[(ec2::TOKEN_TTL_HEADER, TOKEN_TTL_SECONDS)]).await {
        Ok(a) if a.status == 200 => Ok(String::from_utf8_lossy(&a.body).trim().to_string()),
        Ok(a) => Err(format!("PUT {token_url}: answered {}", a.status)),
        Err(e) => Err(format!("{e} (inside a container the instance's metadata hop limit must be at least 2)")),
    };
    let url = format!("{base}{}", ec2::IDENTITY_PATH);
    let answer = match token {
        Ok(token) => fetch.request("GET", &url, &[(ec2::TOKEN_HEADER, &token)]).await?,
        Err(e) if v1_fallback => {
            tracing::warn!(error = %e, "IMDSv2 token not had: trying IMDSv1 (imds_v1_fallback)");
            fetch.request("GET", &url, &[]).await?
        }
        Err(e) => return Err(format!("IMDSv2 token: {e}")),
    };
    match answer.status {
        200 => ec2::identity_attributes(&answer.body),
        401 => Err(format!("GET {url}: answered 401, the token was refused")),
        s => Err(format!("GET {url}: answered {s}")),
    }
}

/// Logs what detection came to: each failure as a warning naming its detector, each
/// dimension added.
pub fn log(detection: &Detection) {
    for o in &detection.outcomes {
        match &o.error {
            Some(error) => tracing::warn!(
                detector = o.detector.name(),
                error = %error,
                "environment detector failed: running without its dimensions"
            ),
            None => tracing::info!(detector = o.detector.name(), "environment detected"),
        }
    }
    for (dimension, attribute) in &detection.missing {
        tracing::warn!(%dimension, %attribute, "environment dimension has no value: not added");
    }
    if !detection.dimensions.is_empty() {
        let added: Vec<String> = detection.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect();
        tracing::info!(dimensions = %added.join(","), "environment dimensions added to every record");
    }
}
