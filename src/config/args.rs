//! The command line side: one flag per key, spelled from the key by [`flag_name`], with the
//! `--help` text of its doc comment ([`super::docs`]). clap only collects the flags as text; parsing and validation
//! happen in the layering, the same way for every layer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use super::docs::{KEYS, summary};

/// Environment variable naming the TOML file, like `--config`.
const CONFIG_ENV: &str = "CW_SIDECAR_CONFIG";

/// Prefix of every key's environment variable.
const ENV_PREFIX: &str = "CW_SIDECAR_";

/// Every key of the file is settable by flag and environment variable, as written in the file
/// (`section.key` inside a section), with its doc comment's first sentence as `--help` text.
pub(super) fn keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|k| k.key.as_str())
}

/// Keys whose values are never shown, not even in error messages.
pub(super) const SECRET_KEYS: &[&str] = &["auth_token"];

/// The flag of a key: `flush_interval` is `--flush-interval`, `statsd.address` `--statsd-address`.
pub(super) fn flag_name(key: &str) -> String {
    format!("--{}", key.replace(['.', '_'], "-"))
}

/// The environment variable of a key: `flush_interval` is `CW_SIDECAR_FLUSH_INTERVAL`, and a
/// section's `statsd.address` is `CW_SIDECAR_STATSD__ADDRESS` (two underscores between section
/// and key, as keys themselves contain one).
pub(super) fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Where the configuration comes from: a TOML file, and the keys given as flags. The binary
/// flattens this into its command line; environment variables are read by
/// [`Config::load`](super::Config::load).
#[derive(Debug, Default, Clone)]
pub struct ConfigArgs {
    /// TOML configuration file (`--config FILE` or `CW_SIDECAR_CONFIG`).
    pub config: Option<PathBuf>,
    /// Keys given as flags, by key as written in the file, each with its text as typed.
    pub flags: BTreeMap<String, String>,
}

/// A key's flag (without the dashes), placeholder and `--help` text, built once: clap wants
/// `&'static str`.
struct FlagSpec {
    key: &'static str,
    long: String,
    value_name: String,
    help: String,
}

static FLAGS: LazyLock<Vec<FlagSpec>> = LazyLock::new(|| {
    KEYS.iter()
        .map(|k| {
            let default = match (&k.default, SECRET_KEYS.contains(&k.key.as_str())) {
                (Some(value), false) => format!(" [default: {}]", value.trim_matches('"')),
                _ => String::new(),
            };
            FlagSpec {
                key: k.key.as_str(),
                long: flag_name(&k.key).trim_start_matches('-').to_string(),
                value_name: k.key.replace('.', "_").to_ascii_uppercase(),
                help: format!("{}{default} [env: {}]", summary(&k.description), env_name(&k.key)),
            }
        })
        .collect()
});

impl Args for ConfigArgs {
    fn augment_args(cmd: Command) -> Command {
        let config = Arg::new("config")
            .long("config")
            .env(CONFIG_ENV)
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .action(ArgAction::Set)
            .help("TOML configuration file (keys as in the README's table)");
        cmd.arg(config).args(FLAGS.iter().map(|flag| {
            Arg::new(flag.key)
                .long(flag.long.as_str())
                .value_name(flag.value_name.as_str())
                .value_parser(clap::value_parser!(String))
                .action(ArgAction::Set)
                .help(flag.help.as_str())
        }))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConfigArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ConfigArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(path) = matches.get_one::<PathBuf>("config") {
            self.config = Some(path.clone());
        }
        for key in keys() {
            if let Some(value) = matches.get_one::<String>(key) {
                self.flags.insert(key.to_string(), value.clone());
            }
        }
        Ok(())
    }
}
