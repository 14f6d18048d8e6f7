//! Bench-only baseline: an axum server that parses `POST /v1/metrics` bodies (a JSON array
//! of records) into a borrowed struct with serde_json and answers 202 with the count, doing
//! nothing else. It is the physical limit `scripts/bench.sh` compares cw-sidecar with.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)] // parsed, never read: parsing is the point
struct Record<'a> {
    name: &'a str,
    value: Option<f64>,
    unit: Option<&'a str>,
    #[serde(borrow)]
    dimensions: Option<BTreeMap<&'a str, &'a str>>,
    timestamp: Option<i64>,
}

async fn ingest(body: Bytes) -> (StatusCode, String) {
    match serde_json::from_slice::<Vec<Record>>(&body) {
        Ok(records) => (StatusCode::ACCEPTED, format!("{{\"accepted\":{}}}", records.len())),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[tokio::main]
async fn main() {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:25891".into());
    let app = Router::new().route("/v1/metrics", post(ingest));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
