//! Admission: the chain of stages a submission's valid records go through, in this order,
//! each stage in its own file with one signature ([`Stage`]):
//!
//! - [`gate`]: readiness and backpressure: refuses while shutting down, and reserves the
//!   buffer slots the records can take (refusing when the buffer is full);
//! - [`catalog`]: the metric catalog, when there is one: a record whose metric, dimensions
//!   or unit it does not declare is rejected (strict) or counted and let through (lenient);
//! - [`rules`]: the metric rules (`[[metrics]]`), when there are any: dimensions dropped or
//!   kept, rollups added, a series dropped for its rollups;
//! - [`budget`]: the series budget (`[cardinality]`), when on: a new series over a bound joins
//!   its metric's overflow series, or is refused;
//! - [`journal`]: with a disk spool, logs the records and hands the rest of the chain to the
//!   journal's thread, to run once they are durable;
//! - [`aggregate`]: adds the records to their windows, and counts them accepted.
//!
//! A stage takes the records and the rest of the chain ([`Next`]), and either refuses the
//! records (nothing of the submission is accepted then) or hands them on, now or later. A
//! stage that is not configured is not in the chain: it costs nothing. [`chain`] holds the
//! trait and the chain; [`crate::pipeline::Pipeline::new`] lists the stages.

pub mod aggregate;
pub mod budget;
pub mod catalog;
pub mod chain;
pub mod gate;
pub mod journal;
pub mod rules;

pub use chain::{Chain, Later, Next, Stage};
pub use journal::{Journal, JournalEntry, JournalFull};
