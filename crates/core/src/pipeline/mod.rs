//! What the pipeline does to a record, without the pipeline's threads: a candidate
//! ([`candidate`]) is validated ([`validate`]; records of a series already checked in a
//! submission are recognised by [`known`]), admitted against the bound on buffered datums
//! ([`budget`]) and aggregated per series and window ([`aggregate`]).

pub mod aggregate;
pub mod budget;
pub mod candidate;
pub mod known;
pub mod validate;

#[cfg(test)]
mod rules_tests;
