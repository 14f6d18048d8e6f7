//! Namespaces, metric names and dimensions: CloudWatch's text rules, each in one place.
//! The types borrow the text they check and can only be made by checking it.

use crate::domain::error::{ValidationError, reject};
use crate::domain::limits::{MAX_DIMENSION_NAME_CHARS, MAX_DIMENSION_VALUE_CHARS, MAX_NAME_CHARS};
use crate::reasons::RejectReason;

/// A namespace CloudWatch accepts: 1-255 ASCII characters without control characters, not
/// only whitespace, not starting with `AWS/` (reserved) or `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespace<'a>(&'a str);

impl<'a> Namespace<'a> {
    pub fn parse(ns: &'a str) -> Result<Namespace<'a>, ValidationError> {
        let fail = |m: String| reject(RejectReason::Namespace, m);
        check_text(ns, MAX_NAME_CHARS).map_err(|p| fail(p.describe("namespace", "namespace")))?;
        if ns.starts_with("AWS/") {
            return Err(fail(format!("namespace: `{ns}` must not start with AWS/ (reserved for AWS services)")));
        }
        if ns.starts_with(':') {
            return Err(fail(format!("namespace: `{ns}` must not start with `:`")));
        }
        Ok(Namespace(ns))
    }

    /// Like [`Namespace::parse`], skipping the rules when `ns` equals the text `memo` holds
    /// (the last one that passed them); otherwise checked, and kept in `memo` if valid.
    pub fn parse_memo(ns: &'a str, memo: &mut String) -> Result<Namespace<'a>, ValidationError> {
        memoized(ns, memo, Namespace::parse, Namespace)
    }

    pub fn as_str(self) -> &'a str {
        self.0
    }
}

/// A metric name CloudWatch accepts: 1-255 ASCII characters without control characters, not
/// only whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricName<'a>(&'a str);

impl<'a> MetricName<'a> {
    pub fn parse(name: &'a str) -> Result<MetricName<'a>, ValidationError> {
        check_text(name, MAX_NAME_CHARS).map_err(|p| reject(RejectReason::Name, p.describe("name", "name")))?;
        Ok(MetricName(name))
    }

    /// Like [`MetricName::parse`], with a memo as [`Namespace::parse_memo`] has.
    pub fn parse_memo(name: &'a str, memo: &mut String) -> Result<MetricName<'a>, ValidationError> {
        memoized(name, memo, MetricName::parse, MetricName)
    }

    pub fn as_str(self) -> &'a str {
        self.0
    }
}

/// One dimension: a name of 1-255 and a value of 1-1024 ASCII characters without control
/// characters, neither only whitespace, and a name not starting with `:`.
pub fn check_dimension(name: &str, value: &str) -> Result<(), ValidationError> {
    // The field is only spelled out when there is something to say about it.
    let fail =
        |what: &str, p: Problem| reject(RejectReason::Dimensions, p.describe(&format!("dimensions.{name}"), what));
    check_text(name, MAX_DIMENSION_NAME_CHARS).map_err(|p| fail("the name", p))?;
    if name.starts_with(':') {
        return Err(reject(RejectReason::Dimensions, format!("dimensions.{name}: the name must not start with `:`")));
    }
    check_text(value, MAX_DIMENSION_VALUE_CHARS).map_err(|p| fail("the value", p))
}

/// `text` made into `T` unchecked (`passed`) when it equals `memo`, the last text that
/// passed `parse`; otherwise parsed, and kept in `memo` if valid. An empty memo is no pass.
fn memoized<'a, T>(
    text: &'a str,
    memo: &mut String,
    parse: fn(&'a str) -> Result<T, ValidationError>,
    passed: fn(&'a str) -> T,
) -> Result<T, ValidationError> {
    if !memo.is_empty() && memo == text {
        return Ok(passed(text));
    }
    let checked = parse(text)?;
    memo.clear();
    memo.push_str(text);
    Ok(checked)
}

/// What is wrong with a text, in the order the rules are checked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Problem {
    /// Not 1..=max characters: the count.
    Length(usize, usize),
    OnlyWhitespace,
    NotAscii(char),
}

impl Problem {
    fn describe(self, field: &str, what: &str) -> String {
        match self {
            Problem::Length(len, max) => format!("{field}: {what} must be 1-{max} characters, got {len}"),
            Problem::OnlyWhitespace => format!("{field}: {what} must not be only whitespace"),
            Problem::NotAscii(c) => {
                format!("{field}: {what} must be ASCII without control characters, found {c:?}")
            }
        }
    }
}

/// 1..=max characters, not only whitespace, ASCII without control characters.
fn check_text(s: &str, max: usize) -> Result<(), Problem> {
    // The usual case, printable ASCII not all blank, in one pass over the bytes; anything
    // else is looked at again below to say what is wrong.
    let (mut printable, mut blank) = (true, true);
    for &b in s.as_bytes() {
        printable &= (0x20..0x7f).contains(&b);
        blank &= b == b' ';
    }
    if printable && !blank && s.len() <= max {
        return Ok(());
    }
    // ASCII text is counted byte by byte.
    let len = if s.is_ascii() { s.len() } else { s.chars().count() };
    if len == 0 || len > max {
        return Err(Problem::Length(len, max));
    }
    if s.chars().all(char::is_whitespace) {
        return Err(Problem::OnlyWhitespace);
    }
    match s.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        Some(c) => Err(Problem::NotAscii(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_err(s: &str) -> String {
        Namespace::parse(s).unwrap_err().message
    }

    #[test]
    fn namespace_rules() {
        assert_eq!(Namespace::parse("App/Checkout").unwrap().as_str(), "App/Checkout");
        assert!(ns_err("AWS/EC2").contains("must not start with AWS/"));
        assert!(ns_err(":x").contains("must not start with `:`"));
        assert!(ns_err(" ").contains("whitespace"));
        assert!(ns_err("").contains("1-255 characters, got 0"));
        assert!(ns_err("caf\u{e9}").contains("ASCII"));
        assert!(Namespace::parse(&"n".repeat(255)).is_ok());
        assert!(ns_err(&"n".repeat(256)).contains("got 256"));
        assert_eq!(Namespace::parse("").unwrap_err().reason, RejectReason::Namespace);
    }

    #[test]
    fn a_memo_spares_only_the_text_that_passed() {
        let mut memo = String::new();
        assert!(MetricName::parse_memo("", &mut memo).is_err(), "an empty memo is no pass");
        assert_eq!(MetricName::parse_memo("Latency", &mut memo).unwrap().as_str(), "Latency");
        assert_eq!(memo, "Latency");
        assert!(MetricName::parse_memo("Latency", &mut memo).is_ok());
        assert!(MetricName::parse_memo(" ", &mut memo).unwrap_err().message.contains("whitespace"));
        assert_eq!(memo, "Latency", "a failed text is not kept");
        let mut memo = String::new();
        assert!(Namespace::parse_memo("App", &mut memo).is_ok());
        assert!(Namespace::parse_memo("AWS/EC2", &mut memo).unwrap_err().message.contains("AWS/"));
        assert!(Namespace::parse_memo("App", &mut memo).is_ok());
    }

    #[test]
    fn metric_name_rules() {
        assert!(MetricName::parse(&"n".repeat(255)).is_ok());
        let e = MetricName::parse(&"n".repeat(256)).unwrap_err();
        assert_eq!(
            (e.reason, e.message.as_str()),
            (RejectReason::Name, "name: name must be 1-255 characters, got 256")
        );
        assert!(MetricName::parse("  ").unwrap_err().message.contains("whitespace"));
        // A client must not be able to forge a log line through a name.
        let e = MetricName::parse("x\n2026-01-01T00:00:00Z INFO shutdown complete").unwrap_err();
        assert_eq!(e.message, "name: name must be ASCII without control characters, found '\\n'");
        assert!(MetricName::parse("Lat\u{e9}ncy").unwrap_err().message.contains("ASCII"));
    }

    #[test]
    fn dimension_rules() {
        let err = |k: &str, v: &str| check_dimension(k, v).unwrap_err().message;
        assert!(check_dimension("Service", "checkout").is_ok());
        assert!(err(":a", "v").contains("must not start with `:`"));
        assert!(err("a", "").contains("1-1024"));
        assert!(err("a", "  ").contains("whitespace"));
        assert_eq!(
            err("Host", "\u{e9}"),
            "dimensions.Host: the value must be ASCII without control characters, found '\u{e9}'"
        );
        assert!(err("a", "x\ty").contains("control"));
        assert!(err("a", &"v".repeat(1025)).contains("got 1025"));
        assert!(err(&"k".repeat(256), "v").contains("the name must be 1-255"));
    }
}
