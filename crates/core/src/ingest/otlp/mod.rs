//! OpenTelemetry metrics: the OTLP wire formats ([`wire`]) with the decoded-size budget that
//! comes before decoding ([`budget`], [`json`]), and the conversion of their points into
//! candidates ([`convert`], [`points`]) against the cumulative state ([`streams`]), shared by
//! every OTLP transport; [`grpc`] frames the gRPC transport's messages.

pub mod attributes;
pub mod budget;
pub mod convert;
pub mod grpc;
pub mod json;
mod points;
pub mod streams;
pub mod units;
pub mod wire;
