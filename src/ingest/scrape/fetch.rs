//! One scrape over HTTP: `GET` with `Accept` negotiating OpenMetrics 1.0 and text 0.0.4, gzip
//! accepted, the answer bounded in size before and after decompression, all within the
//! target's timeout (on the injected clock).

use std::io::Read;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::clock::SharedClock;
use cw_core::reasons::ScrapeOutcome;

/// What Prometheus itself asks for: OpenMetrics first, the text format next.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// An answer's body, decompressed, and its format.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    pub openmetrics: bool,
}

/// Why a scrape got no exposition.
#[derive(Debug)]
pub struct Failure {
    pub outcome: ScrapeOutcome,
    pub message: String,
}

fn fail(outcome: ScrapeOutcome, message: impl Into<String>) -> Failure {
    Failure { outcome, message: message.into() }
}

#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpConnector, Empty<Bytes>>,
    max_bytes: usize,
    clock: SharedClock,
}

impl Fetcher {
    pub fn new(max_bytes: usize, clock: SharedClock) -> Fetcher {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build(connector);
        Fetcher { client, max_bytes, clock }
    }

    /// Scrapes `uri` within `timeout`.
    pub async fn fetch(&self, uri: &hyper::Uri, timeout: Duration) -> Result<Answer, Failure> {
        tokio::select! {
            answer = self.get(uri, timeout) => answer,
            _ = self.clock.sleep(timeout) => Err(fail(ScrapeOutcome::Timeout, format!("no complete answer within {timeout:?}"))),
        }
    }

    async fn get(&self, uri: &hyper::Uri, timeout: Duration) -> Result<Answer, Failure> {
        let request = hyper::Request::get(uri.clone())
            .header("accept", ACCEPT)
            .header("accept-encoding", "gzip")
            .header("user-agent", concat!("cw-sidecar/", env!("CARGO_PKG_VERSION")))
            .header("x-prometheus-scrape-timeout-seconds", format!("{}", timeout.as_secs_f64()))
            .body(Empty::new())
            .map_err(|e| fail(ScrapeOutcome::Down, e.to_string()))?;
        let response = self.client.request(request).await.map_err(|e| fail(ScrapeOutcome::Down, chain(&e)))?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(fail(ScrapeOutcome::HttpStatus, format!("answered {status}")));
        }
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase).unwrap_or_default()
        };
        let openmetrics = header("content-type").starts_with("application/openmetrics-text");
        let gzip = match header("content-encoding").trim() {
            "" | "identity" => false,
            "gzip" | "x-gzip" => true,
            other => return Err(fail(ScrapeOutcome::Malformed, format!("content-encoding `{other}` is not gzip"))),
        };
        let body = Limited::new(response.into_body(), self.max_bytes).collect().await.map_err(|e| {
            match e.downcast_ref::<http_body_util::LengthLimitError>() {
                Some(_) => {
                    fail(ScrapeOutcome::TooLarge, format!("answer over max_response_bytes ({})", self.max_bytes))
                }
                None => fail(ScrapeOutcome::Down, format!("answer broken off: {e}")),
            }
        })?;
        let bytes = body.to_bytes();
        let body = if gzip { self.gunzip(&bytes)? } else { bytes.to_vec() };
        Ok(Answer { body, openmetrics })
    }

    fn gunzip(&self, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
        let mut out = Vec::new();
        let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(self.max_bytes as u64 + 1);
        reader.read_to_end(&mut out).map_err(|e| fail(ScrapeOutcome::Malformed, format!("bad gzip: {e}")))?;
        if out.len() > self.max_bytes {
            return Err(fail(
                ScrapeOutcome::TooLarge,
                format!("answer over max_response_bytes ({}) once decompressed", self.max_bytes),
            ));
        }
        Ok(out)
    }
}

/// An error with its causes (hyper's own message is only "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
