//! The one path every input takes: validate, add default dimensions, admit, aggregate.

pub mod aggregate;
pub mod budget;
pub mod validate;
