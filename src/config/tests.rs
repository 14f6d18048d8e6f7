//! The environment is passed to the layering as a lookup, so no test touches the process
//! environment and tests cannot race on it.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::args::{env_name, flag_name};
use super::docs::KEYS;
use super::*;
use crate::test_support::TempDir;

/// The `[spool]` section's keys in every layer.
#[path = "spool_tests.rs"]
mod spool;

/// The `[environment]` section: its keys and the rules across them.
#[path = "environment_tests.rs"]
mod environment;

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

/// Loads from flags `args` and the environment `env` (and nothing else from the process's).
fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: BTreeMap<String, OsString> = env.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    super::load::load(&cli(args), |name| env.get(name).cloned())
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = load(&[], &[]).unwrap();
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
    let dir = TempDir::new("flag-beats-file");
    let path = dir.file(
        "c.toml",
        "namespace = \"FromFile\"\nflush_interval = \"5s\"\nmax_buffered_datums = 42\n\
         [default_dimensions]\nEnv = \"prod\"\n",
    );
    let c = load(&["--config", arg(&path), "--flush-interval", "2s"], &[]).unwrap();
    assert_eq!(c.namespace.as_deref(), Some("FromFile"));
    assert_eq!(c.flush_interval, Duration::from_secs(2));
    assert_eq!(c.max_buffered_datums, 42);
    assert_eq!(c.default_dimensions.get("Env").map(String::as_str), Some("prod"));
    let printed = c.to_toml();
    assert!(printed.contains("flush_interval = \"2s\""), "{printed}");
    assert!(printed.contains("max_body_bytes = \"5.0 MiB\""), "{printed}");
}

#[test]
fn invalid_values_name_the_key_and_the_rule() {
    let err = load(&["--flush-interval", "500ms"], &[]).unwrap_err().to_string();
    assert!(err.contains("`flush_interval`") && err.contains("at least 1s"), "{err}");
    let err = load(&["--max-body-bytes", "lots"], &[]).unwrap_err().to_string();
    assert!(err.contains("`max_body_bytes`") && err.contains("5MiB"), "{err}");
    let err = load(&["--default-dimensions", "Env"], &[]).unwrap_err().to_string();
    assert!(err.contains("`default_dimensions`") && err.contains("K=V"), "{err}");
    let err = load(&["--namespace", "AWS/EC2"], &[]).unwrap_err().to_string();
    assert!(err.contains("`namespace`") && err.contains("AWS/"), "{err}");
}

#[test]
fn dimensions_parse_from_pairs() {
    let c = load(&["--default-dimensions", "Env=prod, Service=api"], &[]).unwrap();
    assert_eq!(c.default_dimensions.len(), 2);
    assert_eq!(c.default_dimensions["Service"], "api");
}

#[test]
fn the_token_is_never_printed() {
    let c = load(&["--auth-token", "s3cret"], &[]).unwrap();
    assert!(!c.to_toml().contains("s3cret"));
    let err = load(&["--auth-token", "x", "--listen", "nope"], &[]).unwrap_err();
    assert!(err.to_string().contains("`listen`"));
}

#[test]
fn the_token_is_not_in_error_messages() {
    let dir = TempDir::new("token-in-error");
    let path = dir.file("c.toml", "auth_token = [\"s3cret\"]\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    assert!(err.starts_with("invalid value <redacted> for `auth_token`") && !err.contains("s3cret"), "{err}");
}

#[test]
fn an_error_names_the_file_it_came_from() {
    let dir = TempDir::new("error-file");
    let path = dir.file("c.toml", "flush_interval = \"500ms\"\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    let expected = format!(
        "invalid value \"500ms\" for `flush_interval` (from config file {}): must be at least 1s",
        path.display()
    );
    assert_eq!(err, expected);
}

#[test]
fn an_error_names_the_environment_variable_it_came_from() {
    let err = load(&[], &[("CW_SIDECAR_FLUSH_INTERVAL", "500ms")]).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid value \"500ms\" for `flush_interval` (from environment variable \
         CW_SIDECAR_FLUSH_INTERVAL): must be at least 1s"
    );
}

#[test]
fn an_error_names_the_flag_it_came_from() {
    let err = load(&["--max-put-requests-per-second", "0"], &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid value \"0\" for `max_put_requests_per_second` (from flag --max-put-requests-per-second): \
         expected a whole number from 1 to 10000"
    );
}

#[test]
fn a_typed_file_value_is_shown_as_written() {
    let dir = TempDir::new("typed-value");
    let path = dir.file("c.toml", "max_buffered_datums = 0\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    assert!(err.starts_with("invalid value 0 for `max_buffered_datums` (from config file"), "{err}");
    let path = dir.file("d.toml", "window_grace = [\"1s\"]\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    assert!(err.contains("`window_grace`") && err.contains("expected a string or number"), "{err}");
}

#[test]
fn an_unknown_key_in_the_file_is_named() {
    let dir = TempDir::new("unknown-key");
    let path = dir.file("c.toml", "nmespace = \"Shop\"\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    assert!(err.starts_with(&format!("unknown key `nmespace` (from config file {})", path.display())), "{err}");
    assert!(err.contains("namespace") && err.contains("flush_interval"), "lists the allowed keys: {err}");
    // A section that does not exist (yet) is an unknown key too.
    let path = dir.file("d.toml", "[nosuch]\naddress = \"127.0.0.1:4318\"\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    assert!(err.starts_with("unknown key `nosuch` (from config file"), "{err}");
    // And so is an unknown key of a section, listing the section's keys.
    let path = dir.file("e.toml", "[statsd]\naddress = \"127.0.0.1:8125\"\n");
    let err = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    assert!(err.starts_with("unknown key `statsd.address` (from config file"), "{err}");
    assert!(err.contains("udp_address"), "{err}");
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = TempDir::new("precedence");
    let path = dir.file(
        "c.toml",
        "namespace = \"File\"\nwindow_grace = \"3s\"\nflush_interval = \"30s\"\nmax_buffered_datums = 500\n",
    );
    let env = [("CW_SIDECAR_FLUSH_INTERVAL", "10s"), ("CW_SIDECAR_MAX_BUFFERED_DATUMS", "700")];
    let c = load(&["--config", arg(&path), "--flush-interval", "5s"], &env).unwrap();
    assert_eq!(c.flush_interval, Duration::from_secs(5), "flag beats env and file");
    assert_eq!(c.max_buffered_datums, 700, "env beats file");
    assert_eq!(c.window_grace, Duration::from_secs(3), "file beats default");
    assert_eq!(c.namespace.as_deref(), Some("File"));
    assert_eq!(c.publish_timeout, Duration::from_secs(10), "default");
}

#[test]
fn other_cw_sidecar_variables_are_ignored() {
    let env = [("CW_SIDECAR_E2E", "required"), ("CW_SIDECAR_URL", "http://127.0.0.1:25889")];
    assert!(load(&[], &env).is_ok());
}

#[test]
fn file_values_may_be_typed_or_text() {
    let dir = TempDir::new("typed-or-text");
    let path = dir.file(
        "c.toml",
        "max_buffered_datums = \"1_000\"\nmax_put_requests_per_second = 7\ninteger_timestamps = true\n",
    );
    let c = load(&["--config", arg(&path)], &[]).unwrap();
    assert_eq!((c.max_buffered_datums, c.max_put_requests_per_second), (1000, 7));
    assert_eq!(c.integer_timestamps, Some(true));
}

#[test]
fn an_empty_auth_token_is_refused_in_every_layer() {
    let dir = TempDir::new("empty-token");
    let path = dir.file("c.toml", "auth_token = \"\"\n");
    let from_file = load(&["--config", arg(&path)], &[]).unwrap_err().to_string();
    let from_env = load(&[], &[("CW_SIDECAR_AUTH_TOKEN", "")]).unwrap_err().to_string();
    let from_flag = load(&["--auth-token", ""], &[]).unwrap_err().to_string();
    for (err, layer) in [
        (from_file, "config file"),
        (from_env, "environment variable CW_SIDECAR_AUTH_TOKEN"),
        (from_flag, "flag --auth-token"),
    ] {
        assert!(err.contains("`auth_token`") && err.contains(layer) && err.contains("must not be empty"), "{err}");
    }
}

#[test]
fn the_token_can_come_from_a_file() {
    let dir = TempDir::new("token-file");
    let token = dir.file("token", "s3cret\n");
    let c = load(&["--auth-token-file", arg(&token)], &[]).unwrap();
    assert_eq!(c.auth_token.as_deref(), Some("s3cret"));
    assert!(!c.to_toml().contains("s3cret"));
    let c = load(&[], &[("CW_SIDECAR_AUTH_TOKEN_FILE", arg(&token))]).unwrap();
    assert_eq!(c.auth_token.as_deref(), Some("s3cret"));
    let config = dir.file("c.toml", &format!("auth_token_file = {:?}\n", arg(&token)));
    let c = load(&["--config", arg(&config)], &[]).unwrap();
    assert_eq!(c.auth_token.as_deref(), Some("s3cret"));
}

#[test]
fn a_token_file_must_be_readable_and_not_empty() {
    let dir = TempDir::new("bad-token-file");
    let empty = dir.file("empty", "\n");
    let err = load(&["--auth-token-file", arg(&empty)], &[]).unwrap_err().to_string();
    assert!(
        err.contains("`auth_token_file`") && err.contains("flag --auth-token-file") && err.contains("empty"),
        "{err}"
    );
    let missing = dir.path().join("missing");
    let err = load(&[], &[("CW_SIDECAR_AUTH_TOKEN_FILE", arg(&missing))]).unwrap_err().to_string();
    assert!(err.contains("`auth_token_file`") && err.contains("CW_SIDECAR_AUTH_TOKEN_FILE"), "{err}");
    assert!(err.contains("cannot read"), "{err}");
    let err = load(&["--auth-token-file", ""], &[]).unwrap_err().to_string();
    assert!(err.contains("`auth_token_file`") && err.contains("must name a file"), "{err}");
}

#[test]
fn a_token_and_a_token_file_cannot_both_be_set() {
    let dir = TempDir::new("token-conflict");
    let token = dir.file("token", "s3cret");
    let err = load(&["--auth-token-file", arg(&token)], &[("CW_SIDECAR_AUTH_TOKEN", "other")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`auth_token` (from environment variable CW_SIDECAR_AUTH_TOKEN) and `auth_token_file` \
         (from flag --auth-token-file) cannot both be set"
    );
}

#[test]
fn printed_config_loads_back_the_same() {
    let dir = TempDir::new("round-trip");
    let args = [
        "--namespace",
        "Shop",
        "--default-dimensions",
        "Env=prod",
        "--flush-interval",
        "90s",
        "--max-body-bytes",
        "2MiB",
        "--integer-timestamps",
        "false",
    ];
    let printed = load(&args, &[]).unwrap().to_toml();
    let path = dir.file("printed.toml", &printed);
    let reloaded = load(&["--config", arg(&path)], &[]).unwrap();
    assert_eq!(reloaded.to_toml(), printed);
}

#[test]
fn every_key_has_a_flag_and_a_variable() {
    // Every key of the file (with every optional value set, so that none is skipped) ...
    let full = Config {
        namespace: Some("N".into()),
        default_dimensions: BTreeMap::from([("D".into(), "d".into())]),
        auth_token: Some("t".into()),
        auth_token_file: Some("f".into()),
        statsd: crate::config::StatsdConfig {
            udp_address: Some("127.0.0.1:8125".parse().unwrap()),
            tcp_address: Some("127.0.0.1:8125".parse().unwrap()),
            receive_buffer_bytes: Some(1 << 20),
            namespace: Some("S".into()),
            ..Default::default()
        },
        emf: crate::config::EmfConfig {
            udp_address: Some("127.0.0.1:25888".parse().unwrap()),
            tcp_address: Some("127.0.0.1:25888".parse().unwrap()),
            receive_buffer_bytes: Some(1 << 20),
            namespace: Some("E".into()),
            ..Default::default()
        },
        otlp: crate::config::OtlpConfig {
            listen: Some("127.0.0.1:4318".parse().unwrap()),
            grpc_listen: Some("127.0.0.1:4317".parse().unwrap()),
            namespace: Some("O".into()),
            ..Default::default()
        },
        spool: crate::config::SpoolConfig { dir: Some("/var/spool".into()), ..Default::default() },
        scrape: crate::config::ScrapeConfig { namespace: Some("P".into()), ..Default::default() },
        remote_write: crate::config::RemoteWriteConfig { namespace: Some("R".into()), ..Default::default() },
        cardinality: crate::config::CardinalityConfig { max_series_per_namespace: Some(5000), ..Default::default() },
        catalog: Some("metrics.yaml".into()),
        ..Config::default()
    };
    let listed: BTreeSet<&str> = KEYS.iter().map(|k| k.key.as_str()).collect();
    let mut file_keys = BTreeSet::new();
    collect_keys(&toml::from_str(&full.to_toml()).unwrap(), "", &listed, &mut file_keys);
    // ... is listed in KEYS, and every listed key is a key of the file.
    assert_eq!(file_keys, listed.iter().map(|k| k.to_string()).collect());
    let flags: BTreeSet<String> = KEYS.iter().map(|k| flag_name(&k.key)).collect();
    assert_eq!(flags.len(), KEYS.len(), "two keys share a flag");
}

/// Keys of `table` as paths; a table is a section unless its path is itself a listed key.
fn collect_keys(table: &toml::Table, prefix: &str, listed: &BTreeSet<&str>, out: &mut BTreeSet<String>) {
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        match value {
            toml::Value::Table(section) if !listed.contains(key.as_str()) => {
                collect_keys(section, &format!("{key}."), listed, out)
            }
            _ => {
                out.insert(key);
            }
        }
    }
}

#[test]
fn sections_are_spelled_with_dashes_and_double_underscores() {
    assert_eq!(flag_name("max_body_bytes"), "--max-body-bytes");
    assert_eq!(env_name("max_body_bytes"), "CW_SIDECAR_MAX_BODY_BYTES");
    assert_eq!(flag_name("statsd.address"), "--statsd-address");
    assert_eq!(env_name("statsd.address"), "CW_SIDECAR_STATSD__ADDRESS");
}

#[test]
fn connection_limits_have_their_documented_defaults_and_bounds() {
    let c = load(&[], &[]).unwrap();
    assert_eq!((c.max_connections, c.max_header_bytes), (512, 16 * 1024));
    assert_eq!(c.max_body_bytes_in_flight, 64 * 1024 * 1024);
    assert_eq!(c.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.body_read_timeout, Duration::from_secs(30));
    assert_eq!(c.idle_timeout, Duration::from_secs(120));
    let env = [("CW_SIDECAR_IDLE_TIMEOUT", "5s"), ("CW_SIDECAR_MAX_HEADER_BYTES", "8KiB")];
    let c = load(&["--max-connections", "100", "--body-read-timeout", "500ms"], &env).unwrap();
    assert_eq!((c.max_connections, c.max_header_bytes), (100, 8 * 1024));
    assert_eq!((c.idle_timeout, c.body_read_timeout), (Duration::from_secs(5), Duration::from_millis(500)));
    let err = load(&["--header-read-timeout", "10ms"], &[]).unwrap_err().to_string();
    assert!(err.contains("`header_read_timeout`") && err.contains("at least 100ms"), "{err}");
    let err = load(&["--max-header-bytes", "2MiB"], &[]).unwrap_err().to_string();
    assert!(err.contains("`max_header_bytes`") && err.contains("1KiB and 1MiB"), "{err}");
    let err = load(&["--max-connections", "0"], &[]).unwrap_err().to_string();
    assert!(err.contains("`max_connections`"), "{err}");
}

#[test]
fn the_body_budget_must_hold_one_largest_body() {
    let err = load(&["--max-body-bytes-in-flight", "1MiB"], &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid value \"1MiB\" for `max_body_bytes_in_flight` (from flag --max-body-bytes-in-flight): \
         max_body_bytes_in_flight (1.0 MiB) must be at least max_body_bytes (5.0 MiB)"
    );
    let err = load(&[], &[("CW_SIDECAR_MAX_BODY_BYTES", "100MiB")]).unwrap_err().to_string();
    assert!(err.contains("`max_body_bytes` (from environment variable CW_SIDECAR_MAX_BODY_BYTES)"), "{err}");
    assert!(load(&["--max-body-bytes", "1MiB", "--max-body-bytes-in-flight", "1MiB"], &[]).is_ok());
}

#[test]
fn the_log_format_is_text_or_json_in_every_layer() {
    assert_eq!(load(&[], &[]).unwrap().log_format, LogFormat::Text);
    assert_eq!(load(&["--log-format", "json"], &[]).unwrap().log_format, LogFormat::Json);
    assert_eq!(load(&[], &[("CW_SIDECAR_LOG_FORMAT", "json")]).unwrap().log_format, LogFormat::Json);
    let dir = TempDir::new("log-format");
    let path = dir.file("c.toml", "log_format = \"json\"\n");
    let c = load(&["--config", arg(&path), "--log-format", "text"], &[]).unwrap();
    assert_eq!(c.log_format, LogFormat::Text, "the flag beats the file");
    assert!(load(&["--config", arg(&path)], &[]).unwrap().to_toml().contains("log_format = \"json\""));
    let err = load(&["--log-format", "yaml"], &[]).unwrap_err().to_string();
    assert!(err.contains("`log_format`") && err.contains("expected text or json"), "{err}");
}
