//! End to end on LocalStack, a real CloudWatch-compatible API: the sidecar binary that this
//! test build made publishes, and everything is read back through the AWS SDK.
//!
//! LocalStack must be running (`scripts/localstack.sh start`; `scripts/test.sh` does it).
//! When it is not reachable these tests fail under `CI=true` or `CW_SIDECAR_E2E=required`,
//! and are skipped with a notice otherwise.

mod alarms;
mod readback;
mod support;
