//! The layering: the TOML file, then the environment, then the flags, merged by figment and
//! deserialized into [`Config`] (whose `Default` fills what no layer sets). Every layer is a
//! TOML table tagged with where it came from, so an error can name the layer.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::args::{ConfigArgs, env_name, flag_name, keys};
use super::error::{ConfigError, from_figment, layer_of, shown};
use super::root::Config;

/// One layer: its values, and metadata naming it for error messages.
struct Layer {
    metadata: Metadata,
    values: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

impl Layer {
    fn new(metadata: Metadata, table: toml::Table) -> Layer {
        let values = match Value::serialize(table) {
            Ok(Value::Dict(_, dict)) => dict,
            _ => unreachable!("a TOML table serializes as a dictionary"),
        };
        Layer { metadata, values }
    }

    /// The file as it is: typed TOML values, sections as tables.
    fn file(path: &Path) -> Result<Layer, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Unreadable { path: shown.clone(), error: e.to_string() })?;
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ConfigError::BadFile { path: shown, error: e.to_string() })?;
        Ok(Layer::new(Metadata::from("config file", Source::File(path.to_path_buf())), table))
    }

    /// `CW_SIDECAR_<KEY>` for every key of the file; other `CW_SIDECAR_*` variables
    /// (`CW_SIDECAR_E2E` of the tests, `CW_SIDECAR_URL` of clients) are none of its business.
    fn env(var: impl Fn(&str) -> Option<OsString>) -> Result<Layer, ConfigError> {
        let metadata = Metadata::named("environment variable")
            .interpolater(|_: &Profile, path: &[&str]| env_name(&path.join(".")));
        let mut table = toml::Table::new();
        for key in keys() {
            let name = env_name(key);
            if let Some(value) = var(&name) {
                let value = value.into_string().map_err(|_| ConfigError::Invalid {
                    key: key.to_string(),
                    value: "(not UTF-8)".into(),
                    layer: format!("environment variable {name}"),
                    rule: "must be valid UTF-8".into(),
                })?;
                insert(&mut table, key, value);
            }
        }
        Ok(Layer::new(metadata, table))
    }

    fn flags(flags: &BTreeMap<String, String>) -> Layer {
        let metadata = Metadata::named("flag").interpolater(|_: &Profile, path: &[&str]| flag_name(&path.join(".")));
        let mut table = toml::Table::new();
        for (key, value) in flags {
            insert(&mut table, key, value.clone());
        }
        Layer::new(metadata, table)
    }
}

/// Puts text at a key path: `statsd.address` goes into the `statsd` table.
fn insert(table: &mut toml::Table, key: &str, value: String) {
    match key.split_once('.') {
        Some((section, rest)) => {
            let entry = table.entry(section).or_insert_with(|| toml::Table::new().into());
            if let toml::Value::Table(inner) = entry {
                insert(inner, rest, value);
            }
        }
        None => {
            table.insert(key.to_string(), value.into());
        }
    }
}

/// [`Config::load`] with the environment given as a lookup, so tests need not touch the
/// process environment.
pub(super) fn load(args: &ConfigArgs, var: impl Fn(&str) -> Option<OsString>) -> Result<Config, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = &args.config {
        figment = figment.merge(Layer::file(path)?);
    }
    let figment = figment.merge(Layer::env(var)?).merge(Layer::flags(&args.flags));
    let mut config: Config = figment.extract().map_err(|e| from_figment(&figment, e))?;
    read_token_file(&mut config, &figment)?;
    read_catalog(&mut config, &figment)?;
    check_body_budget(&config, &figment)?;
    check_environment(&config, &figment)?;
    if let Err(rule) = config.cost.check() {
        let key = "cost.usd_per_metric_month";
        return Err(ConfigError::Invalid {
            key: key.into(),
            value: shown(&figment, key),
            layer: layer_of(&figment, key),
            rule,
        });
    }
    Ok(config)
}

/// A body of `max_body_bytes` must fit in `max_body_bytes_in_flight`, or it could never be read.
fn check_body_budget(config: &Config, figment: &Figment) -> Result<(), ConfigError> {
    if config.max_body_bytes_in_flight >= config.max_body_bytes {
        return Ok(());
    }
    // Name the key whose layer set it; when both come from the same layer, the budget.
    let key = match figment.find_metadata("max_body_bytes_in_flight") {
        Some(_) => "max_body_bytes_in_flight",
        None => "max_body_bytes",
    };
    Err(ConfigError::Invalid {
        key: key.into(),
        value: shown(figment, key),
        layer: layer_of(figment, key),
        rule: format!(
            "max_body_bytes_in_flight ({}) must be at least max_body_bytes ({})",
            bytesize::ByteSize(config.max_body_bytes_in_flight as u64).display().iec(),
            bytesize::ByteSize(config.max_body_bytes as u64).display().iec()
        ),
    })
}

/// The environment's dimensions map attributes of detectors that run, and fit beside the
/// default dimensions: none of the same name, at most 30 together.
fn check_environment(config: &Config, figment: &Figment) -> Result<(), ConfigError> {
    let env = &config.environment;
    let key = "environment.dimensions";
    let invalid = |rule: String| ConfigError::Invalid {
        key: key.into(),
        value: shown(figment, key),
        layer: layer_of(figment, key),
        rule,
    };
    cw_core::environment::check_mapping(&env.dimensions, &env.detectors()).map_err(invalid)?;
    if let Some(name) = env.dimensions.keys().find(|k| config.default_dimensions.contains_key(*k)) {
        return Err(invalid(format!("dimension {name} is a default dimension too: give it one source")));
    }
    let total = env.dimensions.len() + config.default_dimensions.len();
    let max = cw_core::domain::limits::MAX_DIMENSIONS;
    if total > max {
        return Err(invalid(format!("at most {max} dimensions with the default dimensions, got {total}")));
    }
    Ok(())
}

/// Reads and checks the file `catalog` names; its dimension sets are the metric rules, so
/// `[[metrics]]` rules beside it would be a second copy.
fn read_catalog(config: &mut Config, figment: &Figment) -> Result<(), ConfigError> {
    let Some(path) = &config.catalog else { return Ok(()) };
    let invalid = |rule: String| ConfigError::Invalid {
        key: "catalog".into(),
        value: shown(figment, "catalog"),
        layer: layer_of(figment, "catalog"),
        rule,
    };
    if !config.metrics.is_empty() {
        return Err(invalid(
            "with a catalog, its dimension_sets are the metric rules: move the [[metrics]] rules into it".into(),
        ));
    }
    let catalog = crate::catalog::read(path).map_err(invalid)?;
    config.catalog_loaded = Some(std::sync::Arc::new(catalog));
    Ok(())
}

/// Puts the token from `auth_token_file` into `auth_token`.
fn read_token_file(config: &mut Config, figment: &Figment) -> Result<(), ConfigError> {
    let Some(path) = &config.auth_token_file else { return Ok(()) };
    if config.auth_token.is_some() {
        return Err(ConfigError::Conflict {
            key: "auth_token".into(),
            layer: layer_of(figment, "auth_token"),
            other: "auth_token_file".into(),
            other_layer: layer_of(figment, "auth_token_file"),
        });
    }
    let invalid = |rule: String| ConfigError::Invalid {
        key: "auth_token_file".into(),
        value: shown(figment, "auth_token_file"),
        layer: layer_of(figment, "auth_token_file"),
        rule,
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read the token from it: {e}")))?;
    let token = text.trim_end_matches(['\r', '\n']);
    if token.is_empty() {
        return Err(invalid("the file is empty".into()));
    }
    config.auth_token = Some(token.to_string());
    Ok(())
}

impl Config {
    /// Layers the file named by `--config` (if any), the `CW_SIDECAR_*` environment variables
    /// and the flags in `args`, over the defaults.
    pub fn load(args: &ConfigArgs) -> Result<Config, ConfigError> {
        load(args, |name| std::env::var_os(name))
    }

    /// The effective configuration as TOML, with the token redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }
}
