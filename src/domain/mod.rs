//! CloudWatch's vocabulary: units, storage resolutions and the API's limits.

pub mod units;
