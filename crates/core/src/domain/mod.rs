//! CloudWatch's vocabulary as types that can only hold valid values, each rule in one place,
//! and the API's limits in [`limits`]. Pure: no I/O, no clock (callers pass "now").

pub mod dimensions;
pub mod error;
pub mod limits;
pub mod names;
pub mod payload;
pub mod timestamp;
pub mod units;
