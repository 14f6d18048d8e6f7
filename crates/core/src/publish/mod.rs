//! Batch planning: closed windows become datums ([`datum`]), datums become PutMetricData
//! requests within CloudWatch's limits ([`batch`]).

pub mod batch;
pub mod datum;
