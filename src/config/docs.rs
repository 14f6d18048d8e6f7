//! Every key of the configuration with its doc comment and default, read from the structs
//! themselves (their JSON schema, derived from the doc comments and the `Default`s): the one
//! definition of a key, from which the flags and their help, `config --print-defaults` and
//! the README's tables (checked by a test) all follow.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::root::Config;

/// One key, as written in the file (`flush_interval`, `statsd.udp_address`).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub key: String,
    /// Its doc comment.
    pub description: String,
    /// Its default as a TOML value (`"60s"`, `100000`, `["service.name"]`); `None` when it is
    /// unset by default.
    pub default: Option<String>,
}

/// The keys, section by section (top-level keys first), each in the order of the alphabet.
pub static KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default();
    let mut keys = Vec::new();
    let defs = schema.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    walk(&schema, "", &defs, &mut keys);
    keys
});

/// The schema of a property, its `$ref` followed.
fn resolved<'s>(property: &'s Value, defs: &'s Map<String, Value>) -> &'s Value {
    let target = property.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"));
    target.and_then(|name| defs.get(name)).unwrap_or(property)
}

/// A section is an object with properties of its own (a map such as `default_dimensions`
/// has none: it is one key).
fn is_section(schema: &Value) -> bool {
    schema.get("properties").is_some()
}

fn walk(schema: &Value, prefix: &str, defs: &Map<String, Value>, out: &mut Vec<Key>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    let mut sections = Vec::new();
    for (name, property) in properties {
        let target = resolved(property, defs);
        let key = format!("{prefix}{name}");
        if is_section(target) {
            sections.push((key, target));
            continue;
        }
        let description = property.get("description").or_else(|| target.get("description"));
        out.push(Key {
            key,
            description: unlinked(description.and_then(Value::as_str).unwrap_or_default()),
            default: property.get("default").and_then(toml_value),
        });
    }
    for (key, target) in sections {
        walk(target, &format!("{key}."), defs, out);
    }
}

/// A doc comment without rustdoc's link brackets: "[`Config::load`]" reads "`Config::load`".
fn unlinked(doc: &str) -> String {
    doc.replace("[`", "`").replace("`]", "`")
}

/// A JSON default as a TOML value; `None` for `null`.
fn toml_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(toml::Value::String(s.clone()).to_string()),
        other => toml::Value::try_from(other).ok().map(|t| t.to_string()),
    }
}

/// The first sentence of a doc comment, on one line: a flag's help.
pub fn summary(description: &str) -> String {
    let text = description.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.find(". ") {
        Some(i) => text[..=i].to_string(),
        None => text,
    }
}

/// The whole configuration at its defaults, as an annotated TOML file: every key with its doc
/// comment, the keys unset by default commented out.
pub fn print_defaults() -> String {
    let mut out = String::from(
        "# cw-sidecar's configuration, every key at its default (`cw-sidecar config --print-defaults`).\n\
         # Each key is also a flag (--<key-with-dashes>) and an environment variable\n\
         # (CW_SIDECAR_<KEY>, `__` between section and key); a flag beats the environment, which\n\
         # beats this file, which beats the default.\n",
    );
    let mut section = "";
    for key in KEYS.iter() {
        let (this, name) = key.key.rsplit_once('.').unwrap_or(("", &key.key));
        if this != section {
            section = this;
            out.push_str(&format!("\n[{section}]\n"));
        }
        out.push('\n');
        for line in wrap(&key.description, 92) {
            out.push_str(&format!("# {line}\n"));
        }
        match &key.default {
            Some(value) => out.push_str(&format!("{name} = {value}\n")),
            None => out.push_str(&format!("# {name} =   (unset)\n")),
        }
    }
    out
}

/// Words in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
