//! Configuration errors, each naming the key, the layer it came from and what is allowed.

use figment::error::Kind;
use figment::{Figment, Metadata, Profile, Source};

use super::args::SECRET_KEYS;

/// A configuration that cannot be used, with where the offending value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value} for `{key}` (from {layer}): {rule}")]
    Invalid { key: String, value: String, layer: String, rule: String },
    #[error("unknown key `{key}` (from {layer}); allowed here: {allowed}")]
    UnknownKey { key: String, layer: String, allowed: String },
    #[error("`{key}` (from {layer}) and `{other}` (from {other_layer}) cannot both be set")]
    Conflict { key: String, layer: String, other: String, other_layer: String },
    #[error("cannot read config file {path}: {error}")]
    Unreadable { path: String, error: String },
    #[error("config file {path}: {error}")]
    BadFile { path: String, error: String },
}

/// Names a layer as the user wrote it: `config file PATH`, `environment variable
/// CW_SIDECAR_KEY` or `flag --key`, for the value at `path` (the key split at dots).
pub(super) fn describe(metadata: &Metadata, path: &[String]) -> String {
    match &metadata.source {
        Some(Source::File(file)) => format!("config file {}", file.display()),
        _ => format!("{} {}", metadata.name, metadata.interpolate(&Profile::Default, path)),
    }
}

/// The layer that gave `key` its value in `figment`.
pub(super) fn layer_of(figment: &Figment, key: &str) -> String {
    let path: Vec<String> = key.split('.').map(String::from).collect();
    figment.find_metadata(key).map_or_else(|| "defaults".to_string(), |md| describe(md, &path))
}

/// The value of `key` as TOML writes it (`"500ms"`, `0`, `{ Env = "prod" }`); secrets redacted.
pub(super) fn shown(figment: &Figment, key: &str) -> String {
    let value = figment.find_value(key).ok().and_then(|v| v.deserialize::<toml::Value>().ok());
    match value {
        None => "(unknown)".into(),
        Some(toml::Value::String(s)) if s.is_empty() => "\"\"".into(),
        Some(_) if SECRET_KEYS.contains(&key) => "<redacted>".into(),
        Some(v) => without_passwords(&v.to_string()),
    }
}

/// `text` with the password of every URL's `user:password@` replaced by `***` (a target list
/// may hold several URLs).
fn without_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', '#', ',', '"', '\'', ' ', ']']).unwrap_or(tail.len());
        match tail[..end].rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                out.push_str(&format!("{user}:***@{host}"));
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[test]
fn passwords_in_urls_are_not_shown() {
    assert_eq!(
        without_passwords(r#""http://a/m,http://u:secret@h:1/m" and ["https://v:p@w"]"#),
        r#""http://a/m,http://u:***@h:1/m" and ["https://v:***@w"]"#
    );
    assert_eq!(without_passwords("no url"), "no url");
}

/// Turns figment's error (a deserializer's message, with the key path and the layer's
/// metadata attached by figment) into a [`ConfigError`].
pub(super) fn from_figment(figment: &Figment, error: figment::Error) -> ConfigError {
    let key = error.path.join(".");
    let layer = error.metadata.as_ref().map_or_else(|| "defaults".to_string(), |md| describe(md, &error.path));
    match error.kind {
        Kind::UnknownField(_, allowed) => ConfigError::UnknownKey { key, layer, allowed: allowed.join(", ") },
        kind => {
            let rule = match kind {
                Kind::Message(rule) => rule,
                Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
                other => other.to_string(),
            };
            ConfigError::Invalid { value: shown(figment, &key), key, layer, rule }
        }
    }
}
