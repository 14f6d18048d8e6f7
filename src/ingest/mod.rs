//! The inputs: each turns its bytes into candidate records for the pipeline.

pub mod http;
