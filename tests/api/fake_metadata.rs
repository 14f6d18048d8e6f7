//! Fakes of the metadata endpoints, serving what the real ones serve: the ECS task metadata
//! endpoint (v4 and v3 `/task`, the documents of the ECS developer guide) and IMDS with the
//! IMDSv2 token flow (`PUT /latest/api/token` with its TTL header, GETs that answer 401
//! without the token), and a PUT that hangs as it does behind a hop limit of 1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};

pub const ECS_EC2_TASK: &str = include_str!("../fixtures/environment/ecs-task-ec2.json");
pub const ECS_FARGATE_TASK: &str = include_str!("../fixtures/environment/ecs-task-fargate.json");
pub const EC2_IDENTITY: &str = include_str!("../fixtures/environment/ec2-identity.json");

const TOKEN: &str = "AQAEAFakeTokenForTestsOnly==";

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The ECS agent's endpoint for one container: `GET {base}/task` answers `document`. The
/// base is what `ECS_CONTAINER_METADATA_URI_V4` holds (a path of the container's own).
pub async fn ecs(document: &'static str) -> String {
    let app = Router::new().route("/v4/abc-123/task", get(move || async move { document }));
    format!("{}/v4/abc-123", serve(app).await)
}

/// How the fake IMDS behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Imds {
    /// IMDSv2 required (the default of new instances): GETs without the token answer 401.
    V2,
    /// The token PUT never answers (a container behind a hop limit of 1); GETs need no token.
    HangingPutV1Allowed,
    /// The token PUT never answers, and GETs need the token.
    HangingPut,
}

/// Requests the fake IMDS saw.
#[derive(Default)]
pub struct ImdsSeen {
    pub token_puts: AtomicUsize,
    pub puts_without_ttl: AtomicUsize,
    pub refused_gets: AtomicUsize,
}

pub async fn imds(mode: Imds) -> (String, Arc<ImdsSeen>) {
    let seen = Arc::new(ImdsSeen::default());
    let (on_put, on_get) = (seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/latest/api/token",
            put(move |headers: HeaderMap| async move {
                on_put.token_puts.fetch_add(1, Ordering::SeqCst);
                if mode != Imds::V2 {
                    std::future::pending::<()>().await;
                }
                match headers.get("x-aws-ec2-metadata-token-ttl-seconds") {
                    Some(_) => (StatusCode::OK, TOKEN),
                    None => {
                        on_put.puts_without_ttl.fetch_add(1, Ordering::SeqCst);
                        (StatusCode::BAD_REQUEST, "")
                    }
                }
            }),
        )
        .route(
            "/latest/dynamic/instance-identity/document",
            get(move |headers: HeaderMap| async move {
                let token = headers.get("x-aws-ec2-metadata-token").and_then(|v| v.to_str().ok());
                if mode != Imds::HangingPutV1Allowed && token != Some(TOKEN) {
                    on_get.refused_gets.fetch_add(1, Ordering::SeqCst);
                    return (StatusCode::UNAUTHORIZED, "");
                }
                (StatusCode::OK, EC2_IDENTITY)
            }),
        );
    (serve(app).await, seen)
}
