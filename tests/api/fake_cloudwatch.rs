//! An in-process CloudWatch that speaks what the SDK really sends: Smithy RPC v2 CBOR on
//! `POST /service/GraniteServiceVersion20100801/operation/PutMetricData`, gzip bodies
//! included, and answers errors the way CloudWatch does (`x-amzn-query-error` header and a
//! CBOR `__type`). Faults are scripted per request; it can also stop listening altogether.
//!
//! A request the fake cannot decode (not CBOR, bad gzip, a missing member, a failed
//! assertion or any other panic while decoding) is a bug the test must see, not an outage
//! the sidecar would retry: the fake records it, and every accessor the tests use
//! (`requests`, `datums`, `attempts`, `check`), `TestApp::shutdown` and `TestApp`'s drop
//! panic with what it recorded.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ciborium::Value;

use crate::fake_outage::{GatedListener, Switch};

pub const PUT_METRIC_DATA_PATH: &str = "/service/GraniteServiceVersion20100801/operation/PutMetricData";

/// What the next request gets instead of success.
#[derive(Debug, Clone)]
pub enum Fault {
    Throttle,
    ServerError,
    AccessDenied,
    /// Waits, then answers 500 without storing anything (the client should time out first).
    Slow(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedDatum {
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub timestamp_ms: i64,
    /// Whether the timestamp came as a CBOR integer (tag 1 over an integer, not a double).
    pub integer_timestamp: bool,
    pub unit: Option<String>,
    pub storage_resolution: Option<i64>,
    pub values: Vec<f64>,
    pub counts: Vec<f64>,
    /// SampleCount, Sum, Minimum, Maximum.
    pub statistics: Option<[f64; 4]>,
}

#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub namespace: String,
    pub datums: Vec<ReceivedDatum>,
    pub gzipped: bool,
    pub body_bytes: usize,
}

#[derive(Default)]
struct State_ {
    faults: VecDeque<Fault>,
    accepted: Vec<ReceivedRequest>,
    attempts: usize,
    /// Requests the fake could not decode, and why: each one fails the test.
    failures: Vec<String>,
}

/// The state, even after a panic while it was held: the panic is what the test must report.
fn lock(state: &Mutex<State_>) -> MutexGuard<'_, State_> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone)]
pub struct FakeCloudWatch {
    addr: SocketAddr,
    state: Arc<Mutex<State_>>,
    switch: Switch,
}

impl FakeCloudWatch {
    pub async fn start() -> FakeCloudWatch {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeCloudWatch { addr: listener.local_addr().unwrap(), state: Arc::default(), switch: Switch::up() };
        let app = Router::new().route(PUT_METRIC_DATA_PATH, post(put_metric_data)).with_state(fake.state.clone());
        let listener = GatedListener { inner: listener, switch: fake.switch.clone() };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An outage: new connections are reset and open ones fail, until [`FakeCloudWatch::restart`].
    pub fn stop(&self) {
        self.switch.set(false);
    }

    pub async fn restart(&self) {
        self.switch.set(true);
    }

    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).faults.extend(faults);
    }

    /// Panics with what the fake recorded if it could not decode a request it received.
    pub fn check(&self) {
        let failures = lock(&self.state).failures.clone();
        if !failures.is_empty() {
            panic!("the fake CloudWatch failed on a request it received: {}", failures.join("\n"));
        }
    }

    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.check();
        lock(&self.state).accepted.clone()
    }

    pub fn datums(&self, namespace: &str) -> Vec<ReceivedDatum> {
        self.requests().into_iter().filter(|r| r.namespace == namespace).flat_map(|r| r.datums).collect()
    }

    /// Requests received, failed ones included.
    pub fn attempts(&self) -> usize {
        self.check();
        lock(&self.state).attempts
    }
}

fn cbor_response(status: StatusCode, query_error: Option<&str>, body: Value) -> Response {
    let mut bytes = Vec::new();
    ciborium::into_writer(&body, &mut bytes).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("smithy-protocol", "rpc-v2-cbor".parse().unwrap());
    headers.insert("content-type", "application/cbor".parse().unwrap());
    if let Some(q) = query_error {
        headers.insert("x-amzn-query-error", q.parse().unwrap());
    }
    (status, headers, bytes).into_response()
}

fn error(status: StatusCode, code: &str, fault: &str, message: &str) -> Response {
    let body = Value::Map(vec![
        (Value::Text("__type".into()), Value::Text(code.into())),
        (Value::Text("message".into()), Value::Text(message.into())),
    ]);
    cbor_response(status, Some(&format!("{code};{fault}")), body)
}

async fn put_metric_data(State(state): State<Arc<Mutex<State_>>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = {
        let mut s = lock(&state);
        s.attempts += 1;
        s.faults.pop_front()
    };
    match fault {
        Some(Fault::Throttle) => {
            return error(StatusCode::BAD_REQUEST, "Throttling", "Sender", "Rate exceeded");
        }
        Some(Fault::ServerError) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceError", "Receiver", "Internal error");
        }
        Some(Fault::AccessDenied) => {
            return error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Sender",
                "not authorized to perform cloudwatch:PutMetricData",
            );
        }
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceError", "Receiver", "too slow");
        }
        None => {}
    }
    // Decoding is synchronous, so a panic in it (an unwrap, an assert) is caught here rather
    // than by the server task, which would only drop the connection.
    let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| decode(&headers, &body))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        Err(format!("panicked: {message}"))
    });
    let request = match decoded {
        Ok(Decoded::Accepted(request)) => request,
        Ok(Decoded::Refused(response)) => return response,
        Err(failure) => {
            let failure = format!("PutMetricData: {failure}");
            lock(&state).failures.push(failure.clone());
            return error(StatusCode::BAD_REQUEST, "SerializationException", "Sender", &failure);
        }
    };
    lock(&state).accepted.push(request);
    cbor_response(StatusCode::OK, None, Value::Map(vec![]))
}

enum Decoded {
    Accepted(ReceivedRequest),
    /// What CloudWatch answers to a well-formed request it turns down.
    Refused(Response),
}

/// A request as CloudWatch reads it. `Err` (or a panic) means the SDK could not have sent
/// it: the test fails.
fn decode(headers: &HeaderMap, body: &[u8]) -> Result<Decoded, String> {
    let protocol = headers.get("smithy-protocol").map(|v| v.to_str().unwrap_or("(not text)"));
    if protocol != Some("rpc-v2-cbor") {
        return Err(format!("smithy-protocol header is {protocol:?}, not rpc-v2-cbor"));
    }
    let gzipped = headers.get("content-encoding").is_some_and(|v| v == "gzip");
    let raw = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body).read_to_end(&mut out).map_err(|e| format!("bad gzip body: {e}"))?;
        out
    } else {
        body.to_vec()
    };
    let request: Value = ciborium::from_reader(&raw[..]).map_err(|e| format!("body is not CBOR: {e}"))?;
    let namespace = field(&request, "Namespace").and_then(text).unwrap_or_default();
    let Some(Value::Array(data)) = field(&request, "MetricData") else {
        return Err(format!("no MetricData array in {request:?}"));
    };
    if data.len() > 1000 || raw.len() > 1_000_000 {
        let response = error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "Sender", "request too large");
        return Ok(Decoded::Refused(response));
    }
    let datums: Vec<ReceivedDatum> = data.iter().map(datum).collect();
    // A datum named Invalid* stands for one CloudWatch rejects: the whole request fails.
    if let Some(bad) = datums.iter().find(|d| d.name.starts_with("Invalid")) {
        let message = format!("The value for parameter MetricData.member.{} is invalid", bad.name);
        return Ok(Decoded::Refused(error(StatusCode::BAD_REQUEST, "InvalidParameterValue", "Sender", &message)));
    }
    // So does a number CloudWatch refuses, as it does.
    if let Some(message) = datums.iter().enumerate().find_map(|(i, d)| out_of_range(i + 1, d)) {
        return Ok(Decoded::Refused(error(StatusCode::BAD_REQUEST, "InvalidParameterValue", "Sender", &message)));
    }
    Ok(Decoded::Accepted(ReceivedRequest { namespace, datums, gzipped, body_bytes: raw.len() }))
}

/// 2^360 and 2^-360: every number of a datum is 0 or within them in magnitude, and finite.
const MAX_MAGNITUDE: f64 = 2.348_542_582_773_833_2e108;
const MIN_MAGNITUDE: f64 = 4.257_959_840_008_151e-109;

fn valid_number(v: f64) -> bool {
    v.is_finite() && (v == 0.0 || (MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&v.abs()))
}

/// Why CloudWatch would refuse the `member`th datum's numbers, in its words. `Values`,
/// `Counts` and `StatisticValues` are documented; the SampleCount and Sum CloudWatch derives
/// from `Values`/`Counts` (the sum of counts, the sum of value × count) are not, and are held
/// to the same range here: the sidecar must never depend on how CloudWatch treats them.
fn out_of_range(member: usize, d: &ReceivedDatum) -> Option<String> {
    let invalid = |field: String, v: f64| {
        Some(format!("The value {v} for parameter MetricData.member.{member}.{field} is invalid."))
    };
    if d.values.len() > 150 || (!d.counts.is_empty() && d.counts.len() != d.values.len()) {
        return Some(format!("MetricData.member.{member}: {} values and {} counts", d.values.len(), d.counts.len()));
    }
    for (name, numbers) in [("Values", &d.values), ("Counts", &d.counts)] {
        if let Some((i, v)) = numbers.iter().enumerate().find(|(_, v)| !valid_number(**v)) {
            return invalid(format!("{name}.member.{}", i + 1), *v);
        }
    }
    if let Some(i) = d.counts.iter().position(|c| *c <= 0.0) {
        return invalid(format!("Counts.member.{}", i + 1), d.counts[i]);
    }
    if let Some(stats) = d.statistics {
        let names = ["SampleCount", "Sum", "Minimum", "Maximum"];
        if let Some((name, v)) = names.into_iter().zip(stats).find(|(_, v)| !valid_number(*v)) {
            return invalid(format!("StatisticValues.{name}"), v);
        }
    }
    if !d.values.is_empty() {
        let count = |i: usize| d.counts.get(i).copied().unwrap_or(1.0);
        let sample_count: f64 = (0..d.values.len()).map(count).sum();
        let sum: f64 = d.values.iter().enumerate().map(|(i, v)| v * count(i)).sum();
        if sample_count > MAX_MAGNITUDE {
            return invalid("Counts (their sum, the datum's SampleCount)".into(), sample_count);
        }
        if sum.abs() > MAX_MAGNITUDE {
            return invalid("Values (the sum of value × count, the datum's Sum)".into(), sum);
        }
    }
    None
}

fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    match v {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_text().map(str::to_string)
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Integer(i) => i128::from(*i) as f64,
        Value::Tag(_, inner) => number(inner),
        other => panic!("not a number: {other:?}"),
    }
}

fn numbers(v: Option<&Value>) -> Vec<f64> {
    match v {
        Some(Value::Array(items)) => items.iter().map(number).collect(),
        _ => Vec::new(),
    }
}

fn datum(v: &Value) -> ReceivedDatum {
    let dimensions = match field(v, "Dimensions") {
        Some(Value::Array(ds)) => ds
            .iter()
            .map(|d| (field(d, "Name").and_then(text).unwrap(), field(d, "Value").and_then(text).unwrap()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let statistics = field(v, "StatisticValues").map(|s| {
        ["SampleCount", "Sum", "Minimum", "Maximum"].map(|k| number(field(s, k).expect("statistic set member")))
    });
    ReceivedDatum {
        name: field(v, "MetricName").and_then(text).unwrap(),
        dimensions,
        timestamp_ms: field(v, "Timestamp").map(|t| (number(t) * 1000.0).round() as i64).unwrap_or_default(),
        integer_timestamp: matches!(field(v, "Timestamp"), Some(Value::Tag(1, inner)) if inner.is_integer()),
        unit: field(v, "Unit").and_then(text),
        storage_resolution: field(v, "StorageResolution").map(|r| number(r) as i64),
        values: numbers(field(v, "Values")),
        counts: numbers(field(v, "Counts")),
        statistics,
    }
}

#[path = "fake_cloudwatch_checks.rs"]
mod checks;
