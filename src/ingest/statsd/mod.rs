//! StatsD and DogStatsD over UDP and TCP.

pub mod parse;
