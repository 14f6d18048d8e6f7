//! The pure core of cw-sidecar: CloudWatch's vocabulary, the parsers of every input,
//! validation, aggregation and batch planning, and the spool's record format. Nothing here
//! does I/O or needs a runtime: the sidecar's crate brings the sockets, the threads, the
//! disk and the AWS SDK, and the fuzz targets and benches link only this.
//!
//! # Layout, in the order a record meets it
//! - [`ingest`]: the parsers, each turning an input's bytes into candidate records:
//!   [`ingest::json`] (our records), [`ingest::statsd`], [`ingest::emf`],
//!   [`ingest::otlp`], [`ingest::prometheus`]; [`ingest::cumulative`] and
//!   [`ingest::buckets`] turn cumulative readings and histogram buckets into CloudWatch
//!   values.
//! - [`pipeline`]: the one path every input takes: a candidate ([`pipeline::candidate`])
//!   validated by CloudWatch's rules ([`pipeline::validate`], on the types of [`domain`]),
//!   then the admission chain ([`pipeline::admission`]: gate, journal, aggregate) against
//!   the bound on buffered datums ([`pipeline::buffer`]) into the windows of
//!   [`pipeline::aggregate`].
//! - [`publish`]: closed windows become datums ([`publish::datum`]) and datums become
//!   PutMetricData requests ([`publish::batch`]).
//! - [`spool`]: the checksummed frames ([`spool::frame`]) and records ([`spool::codec`]) of
//!   the disk spool.
//! - [`environment`]: where the sidecar runs (the ECS, EC2 and Kubernetes attributes) and
//!   the memory limit of its cgroup, parsed from what the sidecar reads.
//! - [`reasons`]: every label a refusal, rejection or drop is counted under; [`clock`]: time,
//!   injected.

pub mod catalog;
pub mod clock;
pub mod cost;
pub mod domain;
pub mod environment;
pub mod ingest;
pub mod pipeline;
pub mod publish;
pub mod reasons;
pub mod spool;
