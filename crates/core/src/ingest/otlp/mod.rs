//! OpenTelemetry metrics: the OTLP wire formats ([`wire`]) and the conversion of their points
//! into candidates ([`convert`]), shared by every OTLP transport.

pub mod attributes;
pub mod convert;
pub mod units;
pub mod wire;
