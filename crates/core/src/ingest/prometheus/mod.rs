//! The Prometheus text formats (0.0.4 and OpenMetrics): parsed ([`parse`]), grouped into
//! series ([`series`]) and turned into candidates with a target's state ([`convert`]), under
//! the rules of `[scrape]` ([`rules`]). The rules and the classic histograms ([`histogram`])
//! serve remote-write too.

pub mod convert;
pub mod converted;
pub mod histogram;
pub mod parse;
pub mod rules;
pub mod series;
pub mod state;

#[cfg(test)]
#[path = "parse_tests.rs"]
mod parse_tests;

#[cfg(test)]
#[path = "convert_tests.rs"]
mod convert_tests;
