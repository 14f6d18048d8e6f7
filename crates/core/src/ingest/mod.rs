//! The parsers: each input's bytes become candidate records, the pipeline's input.

pub mod buckets;
pub mod cumulative;
pub mod emf;
pub mod json;
pub mod key;
pub mod otlp;
pub mod prometheus;
pub mod protowire;
pub mod remote_write;
pub mod statsd;
