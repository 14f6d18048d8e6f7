//! The metadata endpoints' HTTP: one request, its answer bounded in size and time. Plain
//! HTTP on a link-local or task-local address, as the endpoints are.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What an endpoint answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

pub struct Fetch {
    client: Client<HttpConnector, Empty<Bytes>>,
    /// Bound on each request, from the connection to the body's last byte.
    timeout: Duration,
    max_bytes: usize,
}

impl Fetch {
    pub fn new(timeout: Duration, max_bytes: usize) -> Fetch {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
        Fetch { client, timeout, max_bytes }
    }

    /// `method url` with `headers`; an error says what went wrong in words.
    pub async fn request(&self, method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Answer, String> {
        let mut request = hyper::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::new()).map_err(|e| format!("{method} {url}: {e}"))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| format!("{method} {url}: {e}"))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), self.max_bytes)
                .collect()
                .await
                .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("{method} {url}: no answer within {}", humantime::format_duration(self.timeout))),
        }
    }
}
