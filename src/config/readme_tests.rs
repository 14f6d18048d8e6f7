//! The README's configuration tables and the keys themselves cannot drift apart: every key of
//! the file is in a table (`| key | default | meaning |`, or `` | `[section]` key | ... ``),
//! every key a table names exists, and a key's default, when it has one, is the one the table
//! shows.

use std::collections::BTreeMap;

use super::docs::KEYS;

/// (key, default cell) of every row of the README's key tables.
fn documented(readme: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut section: Option<String> = None;
    for line in readme.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").map(str::trim).collect();
        if !line.starts_with('|') {
            section = None;
            continue;
        }
        match cells.first() {
            Some(&"key") => section = Some(String::new()),
            Some(head) if head.ends_with("]` key") => {
                section = head.strip_prefix("`[").and_then(|h| h.strip_suffix("]` key")).map(|s| format!("{s}."))
            }
            Some(first) if first.starts_with('`') && cells.len() >= 2 => {
                if let Some(prefix) = &section {
                    let name = first.trim_matches('`');
                    // A table of top-level keys may name section keys in full (`spool.dir`).
                    let key = if prefix.is_empty() || name.contains('.') {
                        name.to_string()
                    } else {
                        format!("{prefix}{name}")
                    };
                    out.insert(key, cells[1].to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// The code spans of a cell.
fn backticked(cell: &str) -> impl Iterator<Item = &str> {
    cell.split('`').skip(1).step_by(2)
}

/// The same value, however written: `60s` is `1m`, `5MiB` is `5.0 MiB`.
fn same_value(a: &str, b: &str) -> bool {
    use super::human::{duration, size};
    a == b
        || matches!((duration(a), duration(b)), (Ok(x), Ok(y)) if x == y)
        || matches!((size(a), size(b)), (Ok(x), Ok(y)) if x == y)
}

#[test]
fn every_key_is_in_the_readme_with_its_default_and_the_readme_names_no_other() {
    let documented = documented(include_str!("../../README.md"));
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for key in KEYS.iter() {
        let Some(cell) = documented.get(&key.key) else {
            missing.push(key.key.clone());
            continue;
        };
        // Empty lists and tables read "none" (or say what stands in) in the README.
        if let Some(value) = key.default.as_deref().filter(|v| !matches!(*v, "[]" | "{}")) {
            let value = value.trim_matches('"');
            if !backticked(cell).any(|shown| same_value(shown, value)) {
                wrong.push(format!("{}: the README says {cell}, the default is `{value}`", key.key));
            }
        }
    }
    let unknown: Vec<&String> = documented.keys().filter(|k| !KEYS.iter().any(|key| &key.key == *k)).collect();
    assert!(missing.is_empty(), "keys not in the README's tables: {missing:?}");
    assert!(wrong.is_empty(), "defaults the README gets wrong: {wrong:#?}");
    assert!(unknown.is_empty(), "the README names keys that do not exist: {unknown:?}");
}

#[test]
fn the_check_reads_the_tables_as_they_are_written() {
    let readme = "| `[statsd]` key | default | meaning |\n|---|---|---|\n| `enabled` | `false` | x |\n\n\
                  | key | default | meaning |\n|---|---|---|\n| `listen` | `127.0.0.1:25889` | y |\n| `spool.dir` | none | z |\n";
    let d = documented(readme);
    assert_eq!(d.get("statsd.enabled").map(String::as_str), Some("`false`"));
    assert_eq!(d.get("listen").map(String::as_str), Some("`127.0.0.1:25889`"));
    assert_eq!(d.get("spool.dir").map(String::as_str), Some("none"));
    assert_eq!(d.len(), 3);
    assert!(same_value("60s", "1m") && same_value("5MiB", "5.0 MiB") && !same_value("5s", "5MiB"));
}

#[test]
fn the_printed_defaults_are_a_configuration_that_loads_as_the_defaults() {
    let printed = super::docs::print_defaults();
    let loaded: super::Config = toml::from_str(&printed).unwrap();
    assert_eq!(loaded.to_toml(), super::Config::default().to_toml());
    // Every key is there, set or commented out, with its doc comment above it.
    for key in KEYS.iter() {
        let name = key.key.rsplit('.').next().unwrap_or_default();
        let line = match &key.default {
            Some(v) => format!("{name} = {v}"),
            None => format!("# {name} =   (unset)"),
        };
        assert!(printed.contains(&line), "{line} in\n{printed}");
        assert!(!key.description.is_empty(), "{} has no doc comment", key.key);
    }
}
