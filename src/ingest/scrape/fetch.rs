//! One scrape over HTTP: `GET` with `Accept` negotiating OpenMetrics 1.0 and text 0.0.4, gzip
//! accepted, the answer bounded in size before and after decompression, all within the
//! target's timeout (on the injected clock). A target's credentials are read from their files
//! at each scrape and sent as `Authorization`, marked sensitive, never logged.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::clock::SharedClock;
use crate::config::TargetConfig;
use cw_core::reasons::ScrapeOutcome;

/// Longest credentials file read (a password or token is far shorter).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// What Prometheus itself asks for: OpenMetrics first, the text format next.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// An answer's body, decompressed, and its format.
#[derive(Debug)]
pub struct Answer {
    pub body: Bytes,
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

/// Where a target's credentials come from.
#[derive(Debug, Clone)]
pub enum Credentials {
    Basic { username: String, password_file: PathBuf },
    Bearer(PathBuf),
}

impl Credentials {
    pub fn of(target: &TargetConfig) -> Option<Credentials> {
        match (&target.basic_auth, &target.bearer_token_file) {
            (Some(b), _) => {
                Some(Credentials::Basic { username: b.username.clone(), password_file: b.password_file.clone() })
            }
            (None, Some(file)) => Some(Credentials::Bearer(file.clone())),
            (None, None) => None,
        }
    }

    /// The `Authorization` header, its files read now.
    fn header(&self) -> Result<hyper::header::HeaderValue, Failure> {
        let value = match self {
            Credentials::Basic { username, password_file } => {
                let password = secret(password_file, "basic_auth.password_file")?;
                format!("Basic {}", base64(format!("{username}:{password}").as_bytes()))
            }
            Credentials::Bearer(file) => format!("Bearer {}", secret(file, "bearer_token_file")?),
        };
        let mut header = hyper::header::HeaderValue::from_str(&value)
            .map_err(|_| fail(ScrapeOutcome::Credentials, "the credentials hold characters a header cannot"))?;
        header.set_sensitive(true);
        Ok(header)
    }
}

/// A credentials file's content, trimmed (as Prometheus reads it); the error names the key
/// and the file, never the content.
fn secret(path: &Path, key: &str) -> Result<String, Failure> {
    let cannot = |why: String| fail(ScrapeOutcome::Credentials, format!("{key} {}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_SECRET_BYTES).read_to_string(&mut text).map_err(|e| cannot(e.to_string()))?;
    Ok(text.trim().to_string())
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
    pub async fn fetch(
        &self,
        uri: &hyper::Uri,
        timeout: Duration,
        credentials: Option<&Credentials>,
    ) -> Result<Answer, Failure> {
        let authorization = credentials.map(Credentials::header).transpose()?;
        tokio::select! {
            answer = self.get(uri, timeout, authorization) => answer,
            _ = self.clock.sleep(timeout) => Err(fail(ScrapeOutcome::Timeout, format!("no complete answer within {timeout:?}"))),
        }
    }

    async fn get(
        &self,
        uri: &hyper::Uri,
        timeout: Duration,
        authorization: Option<hyper::header::HeaderValue>,
    ) -> Result<Answer, Failure> {
        let mut request = hyper::Request::get(uri.clone());
        if let Some(value) = authorization {
            request = request.header(hyper::header::AUTHORIZATION, value);
        }
        let request = request
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
        // Not copied again: the parser reads the collected bytes themselves.
        let body = if gzip { Bytes::from(self.gunzip(&bytes)?) } else { bytes };
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

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_as_rfc_4648_gives_it() {
        let cases = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(b"user:secret"), "dXNlcjpzZWNyZXQ=");
    }
}
