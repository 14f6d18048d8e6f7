//! Bench-only baseline: an axum server that answers 202 to `POST /v1/metrics` without
//! looking at the body. `scripts/bench.sh` measures cw-sidecar against it.

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;

#[tokio::main]
async fn main() {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:25890".into());
    let app = Router::new().route("/v1/metrics", post(|_body: Bytes| async { StatusCode::ACCEPTED }));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
