//! Configuration, layered: flag beats `CW_SIDECAR_<KEY>` env beats TOML file beats default.
//!
//! Every layer yields raw strings per key; one parser per key turns them into the typed
//! [`Config`], so an invalid value is reported the same way whichever layer it came from,
//! naming the key, the layer and what is allowed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::pipeline::validate::{validate_dimension, validate_namespace};

/// Where the configuration comes from: a TOML file, and every key as a flag or a
/// `CW_SIDECAR_*` environment variable. The binary flattens this into its command line.
#[derive(Debug, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (keys as in the README's table).
    #[arg(long, env = "CW_SIDECAR_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// One optional flag per key; clap fills it from the flag or, failing that, the env var.
#[derive(Debug, Default, Args)]
pub struct KeyArgs {
    /// Address to listen on [default: 127.0.0.1:25889]
    #[arg(long, env = "CW_SIDECAR_LISTEN")]
    pub listen: Option<String>,
    /// Namespace for records that name none (no default: such records are rejected)
    #[arg(long, env = "CW_SIDECAR_NAMESPACE")]
    pub namespace: Option<String>,
    /// Dimensions added to every record, as K=V,K=V (a record's own value wins)
    #[arg(long, env = "CW_SIDECAR_DEFAULT_DIMENSIONS")]
    pub default_dimensions: Option<String>,
    /// How often closed windows are published [default: 60s, minimum 1s]
    #[arg(long, env = "CW_SIDECAR_FLUSH_INTERVAL")]
    pub flush_interval: Option<String>,
    /// How long after its end a window waits for stragglers before it closes [default: 2s]
    #[arg(long, env = "CW_SIDECAR_WINDOW_GRACE")]
    pub window_grace: Option<String>,
    /// Bound on buffered output datums; ingest answers 503 beyond it [default: 100000]
    #[arg(long, env = "CW_SIDECAR_MAX_BUFFERED_DATUMS")]
    pub max_buffered_datums: Option<String>,
    /// Upper bound on PutMetricData calls per second [default: 20]
    #[arg(long, env = "CW_SIDECAR_MAX_PUT_REQUESTS_PER_SECOND")]
    pub max_put_requests_per_second: Option<String>,
    /// Largest accepted request body, also after decompression [default: 5MiB]
    #[arg(long, env = "CW_SIDECAR_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<String>,
    /// How long shutdown and /v1/flush wait for publishing [default: 20s]
    #[arg(long, env = "CW_SIDECAR_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,
    /// Timeout of one PutMetricData attempt [default: 10s]
    #[arg(long, env = "CW_SIDECAR_PUBLISH_TIMEOUT")]
    pub publish_timeout: Option<String>,
    /// Namespace of the sidecar's own metrics; empty disables them [default: CWSidecar]
    #[arg(long, env = "CW_SIDECAR_SELF_METRICS_NAMESPACE")]
    pub self_metrics_namespace: Option<String>,
    /// When set, ingest requires `Authorization: Bearer <token>`
    #[arg(long, env = "CW_SIDECAR_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Send timestamps as CBOR integers (emulators): auto, true or false [default: auto]
    #[arg(long, env = "CW_SIDECAR_INTEGER_TIMESTAMPS")]
    pub integer_timestamps: Option<String>,
}

/// The effective configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Namespace for records that name none; `None` means such records are rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Dimensions merged into every record (and the self metrics' only dimensions).
    pub default_dimensions: BTreeMap<String, String>,
    /// Period of the flush that publishes closed windows.
    #[serde(with = "humantime_str")]
    pub flush_interval: Duration,
    /// Time a window stays open past its end for late records.
    #[serde(with = "humantime_str")]
    pub window_grace: Duration,
    /// Bound on series-windows plus unpublished datums held in memory.
    pub max_buffered_datums: usize,
    /// Rate limit on PutMetricData calls; lowered on throttling, then recovers.
    pub max_put_requests_per_second: u32,
    /// Largest request body accepted, before and after decompression.
    #[serde(with = "bytes_str")]
    pub max_body_bytes: usize,
    /// Upper bound on how long shutdown and `/v1/flush` wait for publishing.
    #[serde(with = "humantime_str")]
    pub shutdown_timeout: Duration,
    /// Timeout of a single PutMetricData attempt (the SDK's own retries are off).
    #[serde(with = "humantime_str")]
    pub publish_timeout: Duration,
    /// Namespace of the self metrics; empty disables them.
    pub self_metrics_namespace: String,
    /// Bearer token required on ingest when set (printed redacted).
    #[serde(serialize_with = "redacted", skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// Timestamps as CBOR integers instead of doubles: `None` (auto) turns it on exactly
    /// when a custom endpoint (an emulator such as LocalStack) is configured.
    #[serde(serialize_with = "auto_bool")]
    pub integer_timestamps: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 25889)),
            namespace: None,
            default_dimensions: BTreeMap::new(),
            flush_interval: Duration::from_secs(60),
            window_grace: Duration::from_secs(2),
            max_buffered_datums: 100_000,
            max_put_requests_per_second: 20,
            max_body_bytes: 5 * 1024 * 1024,
            shutdown_timeout: Duration::from_secs(20),
            publish_timeout: Duration::from_secs(10),
            self_metrics_namespace: "CWSidecar".to_string(),
            auth_token: None,
            integer_timestamps: None,
        }
    }
}

/// A configuration value that cannot be used, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for `{key}` (from {source_layer}): {rule}")]
    Invalid { key: &'static str, value: String, source_layer: String, rule: String },
    #[error("cannot read config file {path}: {error}")]
    Unreadable { path: String, error: String },
    #[error("config file {path}: {error}")]
    BadFile { path: String, error: String },
    #[error("config file {path}: unknown key `{key}` (known keys: {known})")]
    UnknownKey { path: String, key: String, known: String },
}

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
enum Layer {
    File(String),
    EnvOrFlag,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::File(p) => write!(f, "config file {p}"),
            Layer::EnvOrFlag => f.write_str("flag or CW_SIDECAR_* environment variable"),
        }
    }
}

const KEYS: &[&str] = &[
    "listen",
    "namespace",
    "default_dimensions",
    "flush_interval",
    "window_grace",
    "max_buffered_datums",
    "max_put_requests_per_second",
    "max_body_bytes",
    "shutdown_timeout",
    "publish_timeout",
    "self_metrics_namespace",
    "auth_token",
    "integer_timestamps",
];

/// A raw value of one key: strings everywhere, except a TOML table for dimensions.
#[derive(Debug, Clone)]
enum Raw {
    Text(String),
    Map(BTreeMap<String, String>),
}

impl Config {
    /// Layers the file named by `--config` (if any) under the flags and env vars in `cli`.
    pub fn load(cli: &ConfigArgs) -> Result<Config, ConfigError> {
        let mut raw: BTreeMap<&'static str, (Raw, Layer)> = BTreeMap::new();
        if let Some(path) = &cli.config {
            for (key, value) in read_file(path)? {
                raw.insert(key, (value, Layer::File(path.display().to_string())));
            }
        }
        let k = &cli.keys;
        let overrides: [(&'static str, &Option<String>); 13] = [
            ("listen", &k.listen),
            ("namespace", &k.namespace),
            ("default_dimensions", &k.default_dimensions),
            ("flush_interval", &k.flush_interval),
            ("window_grace", &k.window_grace),
            ("max_buffered_datums", &k.max_buffered_datums),
            ("max_put_requests_per_second", &k.max_put_requests_per_second),
            ("max_body_bytes", &k.max_body_bytes),
            ("shutdown_timeout", &k.shutdown_timeout),
            ("publish_timeout", &k.publish_timeout),
            ("self_metrics_namespace", &k.self_metrics_namespace),
            ("auth_token", &k.auth_token),
            ("integer_timestamps", &k.integer_timestamps),
        ];
        for (key, value) in overrides {
            if let Some(v) = value {
                raw.insert(key, (Raw::Text(v.clone()), Layer::EnvOrFlag));
            }
        }
        Config::from_raw(raw)
    }

    fn from_raw(raw: BTreeMap<&'static str, (Raw, Layer)>) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        for (key, (value, layer)) in raw {
            let shown = match &value {
                Raw::Text(s) if key == "auth_token" => format!("{} characters", s.len()),
                Raw::Text(s) => s.clone(),
                Raw::Map(m) => format!("{m:?}"),
            };
            config.set(key, value).map_err(|rule| ConfigError::Invalid {
                key,
                value: shown,
                source_layer: layer.to_string(),
                rule,
            })?;
        }
        Ok(config)
    }

    /// Parses one key's raw value into `self`; the error says what is allowed.
    fn set(&mut self, key: &str, value: Raw) -> Result<(), String> {
        let text = |v: Raw| match v {
            Raw::Text(s) => Ok(s),
            Raw::Map(_) => Err("expected a string, got a table".to_string()),
        };
        match key {
            "listen" => {
                self.listen =
                    text(value)?.parse().map_err(|_| "expected an address such as 127.0.0.1:25889".to_string())?
            }
            "namespace" => {
                let ns = text(value)?;
                self.namespace = if ns.is_empty() {
                    None
                } else {
                    validate_namespace(&ns).map_err(|e| e.to_string())?;
                    Some(ns)
                }
            }
            "default_dimensions" => {
                let map = match value {
                    Raw::Map(m) => m,
                    Raw::Text(s) => parse_pairs(&s)?,
                };
                if map.len() > 30 {
                    return Err(format!("at most 30 dimensions, got {}", map.len()));
                }
                for (name, value) in &map {
                    validate_dimension(name, value).map_err(|e| e.to_string())?;
                }
                self.default_dimensions = map;
            }
            "flush_interval" => {
                self.flush_interval = parse_duration(&text(value)?)?;
                if self.flush_interval < Duration::from_secs(1) {
                    return Err("must be at least 1s".into());
                }
            }
            "window_grace" => {
                self.window_grace = parse_duration(&text(value)?)?;
                if self.window_grace > Duration::from_secs(60) {
                    return Err("must be at most 60s".into());
                }
            }
            "max_buffered_datums" => self.max_buffered_datums = parse_count(&text(value)?, 1, 100_000_000)? as usize,
            "max_put_requests_per_second" => {
                self.max_put_requests_per_second = parse_count(&text(value)?, 1, 10_000)? as u32
            }
            "max_body_bytes" => {
                let bytes = text(value)?
                    .parse::<bytesize::ByteSize>()
                    .map_err(|_| "expected a size such as 5MiB or 1048576".to_string())?
                    .as_u64();
                if !(1024..=1024 * 1024 * 1024).contains(&bytes) {
                    return Err("must be between 1KiB and 1GiB".into());
                }
                self.max_body_bytes = bytes as usize;
            }
            "shutdown_timeout" => self.shutdown_timeout = parse_duration(&text(value)?)?,
            "publish_timeout" => {
                self.publish_timeout = parse_duration(&text(value)?)?;
                if self.publish_timeout < Duration::from_millis(100) {
                    return Err("must be at least 100ms".into());
                }
            }
            "self_metrics_namespace" => {
                let ns = text(value)?;
                if !ns.is_empty() {
                    validate_namespace(&ns).map_err(|e| e.to_string())?;
                }
                self.self_metrics_namespace = ns;
            }
            "auth_token" => {
                let token = text(value)?;
                self.auth_token = (!token.is_empty()).then_some(token);
            }
            "integer_timestamps" => {
                self.integer_timestamps = match text(value)?.trim() {
                    "auto" => None,
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => return Err("expected auto, true or false".into()),
                }
            }
            _ => unreachable!("keys come from KEYS"),
        }
        Ok(())
    }

    /// The effective configuration as TOML, with the token redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }
}

fn read_file(path: &PathBuf) -> Result<Vec<(&'static str, Raw)>, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Unreadable { path: shown.clone(), error: e.to_string() })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::BadFile { path: shown.clone(), error: e.to_string() })?;
    let mut out = Vec::new();
    for (key, value) in table {
        let Some(known) = KEYS.iter().find(|k| **k == key) else {
            return Err(ConfigError::UnknownKey { path: shown, key, known: KEYS.join(", ") });
        };
        let raw = match value {
            toml::Value::String(s) => Raw::Text(s),
            toml::Value::Integer(i) => Raw::Text(i.to_string()),
            toml::Value::Float(f) => Raw::Text(f.to_string()),
            toml::Value::Table(t) => {
                let mut map = BTreeMap::new();
                for (k, v) in t {
                    let toml::Value::String(v) = v else {
                        return Err(ConfigError::BadFile {
                            path: shown,
                            error: format!("`{key}.{k}` must be a string"),
                        });
                    };
                    map.insert(k, v);
                }
                Raw::Map(map)
            }
            other => {
                return Err(ConfigError::BadFile {
                    path: shown,
                    error: format!("`{key}` must be a string or number, got {}", other.type_str()),
                });
            }
        };
        out.push((*known, raw));
    }
    Ok(out)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|_| "expected a duration such as 500ms, 10s or 1m".to_string())
}

fn parse_count(s: &str, min: u64, max: u64) -> Result<u64, String> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// `K=V,K=V` into a map; an empty string is the empty map.
fn parse_pairs(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| format!("expected K=V,K=V; `{pair}` has no `=`"))?;
        if map.insert(k.trim().to_string(), v.trim().to_string()).is_some() {
            return Err(format!("dimension `{}` given twice", k.trim()));
        }
    }
    Ok(map)
}

fn auto_bool<S: serde::Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_str("auto"),
        Some(b) => s.serialize_str(if *b { "true" } else { "false" }),
    }
}

fn redacted<S: serde::Serializer>(_: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<redacted>")
}

mod humantime_str {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

mod bytes_str {
    pub fn serialize<S: serde::Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&bytesize::ByteSize(*n as u64).display().iec().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct TestCli {
        #[command(flatten)]
        config: ConfigArgs,
    }

    fn cli(args: &[&str]) -> ConfigArgs {
        use clap::Parser;
        let mut all = vec!["cw-sidecar"];
        all.extend_from_slice(args);
        TestCli::try_parse_from(all).unwrap().config
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::load(&cli(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:25889");
        assert_eq!(c.flush_interval, Duration::from_secs(60));
        assert_eq!(c.max_buffered_datums, 100_000);
        assert_eq!(c.max_put_requests_per_second, 20);
        assert_eq!(c.max_body_bytes, 5 * 1024 * 1024);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(c.self_metrics_namespace, "CWSidecar");
        assert!(c.namespace.is_none() && c.auth_token.is_none());
    }

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let dir = std::env::temp_dir().join(format!("cw-sidecar-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "namespace = \"FromFile\"\nflush_interval = \"5s\"\nmax_buffered_datums = 42\n\
             [default_dimensions]\nEnv = \"prod\"\n",
        )
        .unwrap();
        let path_arg = path.to_str().unwrap();
        let c = Config::load(&cli(&["--config", path_arg, "--flush-interval", "2s"])).unwrap();
        assert_eq!(c.namespace.as_deref(), Some("FromFile"));
        assert_eq!(c.flush_interval, Duration::from_secs(2));
        assert_eq!(c.max_buffered_datums, 42);
        assert_eq!(c.default_dimensions.get("Env").map(String::as_str), Some("prod"));
        let printed = c.to_toml();
        assert!(printed.contains("flush_interval = \"2s\""), "{printed}");
        assert!(printed.contains("max_body_bytes = \"5.0 MiB\""), "{printed}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn invalid_values_name_the_key_and_the_rule() {
        let err = Config::load(&cli(&["--flush-interval", "500ms"])).unwrap_err().to_string();
        assert!(err.contains("`flush_interval`") && err.contains("at least 1s"), "{err}");
        let err = Config::load(&cli(&["--max-body-bytes", "lots"])).unwrap_err().to_string();
        assert!(err.contains("`max_body_bytes`") && err.contains("5MiB"), "{err}");
        let err = Config::load(&cli(&["--default-dimensions", "Env"])).unwrap_err().to_string();
        assert!(err.contains("`default_dimensions`") && err.contains("K=V"), "{err}");
        let err = Config::load(&cli(&["--namespace", "AWS/EC2"])).unwrap_err().to_string();
        assert!(err.contains("`namespace`") && err.contains("AWS/"), "{err}");
    }

    #[test]
    fn dimensions_parse_from_pairs() {
        let c = Config::load(&cli(&["--default-dimensions", "Env=prod, Service=api"])).unwrap();
        assert_eq!(c.default_dimensions.len(), 2);
        assert_eq!(c.default_dimensions["Service"], "api");
    }

    #[test]
    fn the_token_is_never_printed() {
        let c = Config::load(&cli(&["--auth-token", "s3cret"])).unwrap();
        assert!(!c.to_toml().contains("s3cret"));
        let err = Config::load(&cli(&["--auth-token", "x", "--listen", "nope"])).unwrap_err();
        assert!(err.to_string().contains("`listen`"));
    }
}
