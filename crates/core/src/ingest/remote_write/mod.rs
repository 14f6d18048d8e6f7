//! Prometheus remote-write 1.0: the body on the wire ([`wire`]: headers, snappy block,
//! `WriteRequest`) within a decoded-size budget counted before decoding ([`budget`]), and its
//! samples turned into candidates ([`convert`]: series by the conventions of their names
//! ([`series`]), histograms rebuilt from their buckets ([`histograms`])) against the state of
//! the series seen ([`state`]). The rules of what is published are scrape's
//! ([`crate::ingest::prometheus::rules`]).

pub mod budget;
pub mod convert;
mod converted;
mod histograms;
mod series;
pub mod state;
pub mod wire;

#[cfg(test)]
#[path = "wire_tests.rs"]
mod wire_tests;

#[cfg(test)]
#[path = "convert_tests.rs"]
mod convert_tests;

#[cfg(test)]
#[path = "state_tests.rs"]
mod state_tests;
