//! The JSON wire format of `POST /v1/metrics`, parsed borrowing from the request body
//! straight into the pipeline's [`Candidate`]s. A JSON body is read in one pass
//! ([`one_pass_parts`], [`records_into`]); when a record cannot be read, the body is read
//! again the careful way: split into items (array elements, envelope `metrics`, or NDJSON
//! lines, [`split_body`]), each parsed on its own with its path tracked ([`parse_record`]),
//! so that the malformed record is rejected by its index, with the field at fault, while the
//! others are accepted. [`submit::submit_body`] feeds either into the pipeline.
//!
//! [`record`]: one record's fields; [`body`]: the body's shapes (array, envelope, NDJSON).

pub mod body;
pub mod record;
pub mod submit;

pub use body::{Body, BodyKind, one_pass_parts, records_into, split_body};
pub use record::{Dimensions, Text, parse_record, parse_record_carefully};

#[cfg(test)]
mod tests;
