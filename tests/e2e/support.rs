//! Starting the real binary against LocalStack, and clients to read LocalStack back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};

pub const BIN: &str = env!("CARGO_BIN_EXE_cw-sidecar");

pub fn endpoint() -> String {
    std::env::var("LOCALSTACK_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// LocalStack's endpoint; panics when it does not answer. The tests that call this are
/// `#[ignore]`d, so they run only when asked for (`scripts/test.sh` does, after starting
/// LocalStack), and then a missing LocalStack is a failure, never a silent pass.
pub async fn localstack() -> String {
    let endpoint = endpoint();
    let healthy = reqwest::Client::new()
        .get(format!("{endpoint}/_localstack/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    assert!(
        healthy,
        "LocalStack is not reachable at {endpoint} (LOCALSTACK_ENDPOINT): start it with scripts/localstack.sh start, \
         or run scripts/test.sh, which starts it"
    );
    endpoint
}

pub fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

pub fn cloudwatch(endpoint: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
            .endpoint_url(endpoint)
            // LocalStack 4.12 cannot parse the SDK's double timestamps (see cw_sidecar::compat).
            .interceptor(cw_sidecar::publish::sink::compat::IntegerTimestamps)
            .disable_request_compression(true)
            .build(),
    )
}

pub fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "e2e"))
            .endpoint_url(endpoint)
            .build(),
    )
}

/// A unique suffix, so runs against a long-lived LocalStack do not see each other's data.
pub fn unique() -> String {
    format!("{}-{}", std::process::id(), cw_sidecar::clock::system_now_ms())
}

/// The sidecar binary, started against LocalStack and stopped by its own pid.
pub struct Sidecar {
    child: Child,
    pub url: String,
    pub http: reqwest::Client,
}

impl Sidecar {
    pub async fn start(endpoint: &str, args: &[&str]) -> Sidecar {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(BIN);
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]).args(args).stdout(Stdio::null());
        aws_env(&mut cmd, endpoint);
        let child = cmd.spawn().expect("starting cw-sidecar");
        let sidecar = Sidecar { child, url: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = sidecar.http.get(format!("{}/readyz", sidecar.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return sidecar;
            }
            assert!(Instant::now() < deadline, "cw-sidecar did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn post(&self, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}/v1/metrics", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        r.json().await.unwrap()
    }

    pub async fn flush(&self) -> (u16, serde_json::Value) {
        let r = self.http.post(format!("{}/v1/flush", self.url)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// SIGTERM, then wait: the sidecar publishes everything and exits 0.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "cw-sidecar exited with {status}");
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        // Only when a test failed before stop(): never leave our process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns Some or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// An alarm's state through CloudWatch's Query API. LocalStack 4.12 fails to serialize
/// DescribeAlarms answers in the CBOR protocol the Rust SDK speaks, so this one read goes
/// over the older protocol that CloudWatch also serves.
pub async fn alarm_state(endpoint: &str, alarm: &str) -> Option<String> {
    let encoded: String = alarm
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let body = format!("Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1={encoded}");
    let xml = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        // LocalStack routes by the credential scope's service; it does not check signatures.
        .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0")
        .body(body)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let start = xml.find("<StateValue>")? + "<StateValue>".len();
    let end = start + xml[start..].find("</StateValue>")?;
    Some(xml[start..end].to_string())
}

/// Waits for `alarm` to reach ALARM, then for its ALARM notification on the SQS queue that
/// the alarm topic delivers to; returns the notification's alarm message.
pub async fn alarm_fires_and_notifies(
    endpoint: &str,
    queue_url: &str,
    alarm: &str,
    timeout: Duration,
) -> serde_json::Value {
    eventually(timeout, &format!("the alarm {alarm} to fire"), || async {
        (alarm_state(endpoint, alarm).await.as_deref() == Some("ALARM")).then_some(())
    })
    .await;
    let sqs = sqs(endpoint);
    eventually(Duration::from_secs(60), "the ALARM notification on the SQS queue", || async {
        let received = sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await.ok()?;
        received.messages().iter().filter_map(|m| m.body()).find_map(|body| {
            // An SNS envelope, unless the subscription delivers raw messages.
            let envelope: serde_json::Value = serde_json::from_str(body).ok()?;
            let message: serde_json::Value = match envelope["Message"].as_str() {
                Some(inner) => serde_json::from_str(inner).ok()?,
                None => envelope,
            };
            (message["AlarmName"] == alarm && message["NewStateValue"] == "ALARM").then_some(message)
        })
    })
    .await
}
