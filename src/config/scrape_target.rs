//! One `[[scrape.targets]]` table: its URL, timing and credentials. Credentials never sit in
//! the URL (it shows in the log, in `/metrics` and in the self metrics' `Target` dimension):
//! they come from files, as in Prometheus, read at each scrape and sent as `Authorization`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Error, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::human::{self, Text};

/// One target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// `http://host:port/path` (plain HTTP: targets are local); no `user:password@` in it
    /// (use `basic_auth` or `bearer_token_file`).
    #[serde(deserialize_with = "url")]
    pub url: String,
    /// Time between two scrapes of this target; `[scrape] interval` when unset.
    #[serde(
        default,
        deserialize_with = "opt_interval",
        serialize_with = "print_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub interval: Option<Duration>,
    /// Time a scrape of this target may take; `[scrape] timeout` when unset.
    #[serde(
        default,
        deserialize_with = "opt_timeout",
        serialize_with = "print_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    /// `{ username, password_file }`: HTTP basic authentication, the password read from the
    /// file at each scrape (surrounding whitespace trimmed); none when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// A file holding a bearer token, read at each scrape (surrounding whitespace trimmed) and
    /// sent as `Authorization: Bearer`; none when unset. Not with `basic_auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
}

/// HTTP basic authentication of a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    /// The file holding the password (never the password itself: it would be logged).
    pub password_file: PathBuf,
}

impl TargetConfig {
    /// A target at `url`, with the section's timing and no credentials.
    pub fn new(url: impl Into<String>) -> TargetConfig {
        TargetConfig { url: url.into(), interval: None, timeout: None, basic_auth: None, bearer_token_file: None }
    }

    fn check(self) -> Result<TargetConfig, String> {
        if self.basic_auth.is_some() && self.bearer_token_file.is_some() {
            return Err(format!("`{}`: basic_auth and bearer_token_file: one of them at most", self.url));
        }
        Ok(self)
    }
}

fn text<'de, D: Deserializer<'de>, T>(d: D, parse: impl FnOnce(String) -> Result<T, String>) -> Result<T, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    parse(s).map_err(D::Error::custom)
}

fn at_least(s: &str, min: Duration, rule: &str) -> Result<Duration, String> {
    match human::duration(s)? {
        d if d < min => Err(rule.into()),
        d => Ok(d),
    }
}

pub(super) fn interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| at_least(&s, Duration::from_secs(1), "must be at least 1s"))
}

pub(super) fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    text(d, |s| at_least(&s, Duration::from_millis(100), "must be at least 100ms"))
}

fn opt_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    interval(d).map(Some)
}

fn opt_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    timeout(d).map(Some)
}

fn print_opt<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    human::print::duration(&d.unwrap_or_default(), s)
}

/// `s` with the password of a `user:password@` replaced by `***`, for messages.
pub fn redacted(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else { return s.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => s.to_string(),
    }
}

/// `http://host:port/path`, nothing else: no credentials in it.
pub fn check_url(s: &str) -> Result<(), String> {
    let uri: hyper::Uri = s.parse().map_err(|_| format!("`{}` is not a URL", redacted(s)))?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!(
            "`{}`: credentials in a target's URL would show in the log, in /metrics and in the self \
             metrics; give them as basic_auth = {{ username, password_file }} or bearer_token_file",
            redacted(s)
        ));
    }
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(format!("`{}`: targets are scraped over plain http://host:port/path", redacted(s)));
    }
    Ok(())
}

fn url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, |s| check_url(s.trim()).map(|_| s.trim().to_string()))
}

/// Targets: an array of tables or of URLs (file), or `URL,URL` (env, flags).
pub(super) fn targets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TargetConfig>, D::Error> {
    struct TargetsVisitor;
    impl<'de> Visitor<'de> for TargetsVisitor {
        type Value = Vec<TargetConfig>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("[[scrape.targets]] tables with a url, or URL,URL")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let urls = v.split(',').map(str::trim).filter(|p| !p.is_empty());
            urls.map(|u| check_url(u).map(|_| TargetConfig::new(u))).collect::<Result<_, _>>().map_err(E::custom)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            // Each as a URL or a table, read as such (an untagged enum would hide the error of
            // a table's URL, the one that says what to do about credentials).
            while let Some(value) = seq.next_element::<toml::Value>()? {
                out.push(match value {
                    toml::Value::String(u) => {
                        check_url(&u).map_err(A::Error::custom)?;
                        TargetConfig::new(u)
                    }
                    table => {
                        let t = TargetConfig::deserialize(table).map_err(|e| A::Error::custom(e.message()))?;
                        t.check().map_err(A::Error::custom)?
                    }
                });
            }
            Ok(out)
        }
    }
    d.deserialize_any(TargetsVisitor)
}
