//! `POST /v1/metrics` bodies as `application/x-ndjson`: see `http_body.rs`, compiled in here.
#![no_main]

include!("http_body.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data, BodyKind::NdJson));
