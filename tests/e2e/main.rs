//! End to end on LocalStack, a real CloudWatch-compatible API: the sidecar binary that this
//! test build made publishes, and everything is read back through the AWS SDK.
//!
//! LocalStack must be running (`scripts/localstack.sh start`), so every test here is
//! `#[ignore]`d: a plain `cargo test` lists them as ignored, never as passed.
//! `scripts/test.sh` starts LocalStack and runs them with `--include-ignored`; run
//! explicitly (`cargo test --test e2e -- --include-ignored`) without LocalStack, they fail.

mod alarms;
mod cost;
mod readback;
mod scrape;
mod support;
