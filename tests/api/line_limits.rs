//! What clients can hold on the StatsD and EMF TCP listeners (issue 25, finding 2): at most
//! `max_connections` open, the rest closed at once and counted; silent connections closed
//! after `idle_timeout`; and with the open-files limit at 1,024, 1,100 idle connections
//! leave `/healthz`, ingest and `/v1/flush` answering.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{closed_by_server, metric_in, open_fds, until};
use crate::limited::{Limited, free_port};
use crate::line_app::LineApp;

/// Opens `n` connections to `addr` and keeps them, sending nothing.
async fn idle_connections(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    held
}

/// How many of `held` the server has closed (EOF or reset within a moment).
async fn closed(held: &mut [TcpStream]) -> usize {
    let mut closed = 0;
    for s in held.iter_mut() {
        let mut buf = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            _ => {}
        }
    }
    closed
}

#[tokio::test]
async fn idle_tcp_connections_beyond_max_connections_are_closed_at_once_and_counted() {
    let app = LineApp::spawn("statsd", |c| {
        c.statsd.namespace = Some("Limits".into());
        c.statsd.max_connections = 100;
    })
    .await;
    // The 1,100 idle connections against a bound of 100.
    let mut held = idle_connections(app.tcp, 1_100).await;
    until("every connection to be accepted or refused", async || {
        app.counter("line_connections_refused_total", "reason=\"max_connections\"").await >= 1_000.0
    })
    .await;
    let metrics = app.metrics().await;
    let m = |name, labels| metric_in(&metrics, name, labels);
    assert_eq!(m("cw_sidecar_line_connections_refused_total", "input=\"statsd\",reason=\"max_connections\""), 1000.0);
    assert_eq!(m("cw_sidecar_line_connections_active", "input=\"statsd\""), 100.0, "{metrics}");
    assert_eq!(m("cw_sidecar_line_connection_limit", "input=\"statsd\""), 100.0);
    assert_eq!(closed(&mut held[100..]).await, 1_000, "the refused ones are closed at once");
    // The ones held still work, and the API answers.
    held[0].write_all(b"held:1|c\n").await.unwrap();
    app.wait_lines("accepted", 1.0).await;
    assert_eq!(app.get("/healthz").await.0, 200);
    // Once some close, new connections are taken again.
    held.truncate(50);
    until("the closed ones to free their slots", async || {
        metric_in(&app.metrics().await, "cw_sidecar_line_connections_active", "input=\"statsd\"") <= 50.0
    })
    .await;
    let mut again = TcpStream::connect(app.tcp).await.unwrap();
    again.write_all(b"again:1|c\n").await.unwrap();
    app.wait_lines("accepted", 2.0).await;
    drop((held, again));
    app.shutdown().await;
}

#[tokio::test]
async fn a_silent_tcp_connection_is_closed_after_idle_timeout() {
    let app = LineApp::spawn("emf", |c| c.emf.idle_timeout = Duration::from_millis(300)).await;
    let silent = TcpStream::connect(app.tcp).await.unwrap();
    let mut talking = TcpStream::connect(app.tcp).await.unwrap();
    let started = Instant::now();
    // One that sends a byte every 100 ms stays open past the timeout.
    for _ in 0..8 {
        talking.write_all(b"\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    closed_by_server(silent, Duration::from_secs(1), "a silent EMF connection").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let metrics = app.metrics().await;
    assert_eq!(metric_in(&metrics, "cw_sidecar_line_connections_timed_out_total", "input=\"emf\""), 1.0, "{metrics}");
    talking.write_all(b"{\"not\":\"emf\"}\n").await.unwrap();
    app.wait_lines("ignored", 1.0).await;
    drop(talking);
    app.shutdown().await;
}

/// The figures: open-files limit 1,024, 1,100 idle StatsD TCP connections. Before,
/// they took every descriptor and `/healthz`, ingest and `/v1/flush` hung.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_1024_descriptors_1100_idle_tcp_connections_leave_the_api_answering() {
    let (api, statsd) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let sidecar = Limited::start(
        1024,
        None,
        &["--listen", &api, "--namespace", "Fds", "--statsd-tcp-address", &statsd, "--self-metrics-namespace", ""],
    )
    .await;
    let pid = sidecar.pid();
    let held = idle_connections(statsd.parse().unwrap(), 1_100).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    let get = async |path: &str| http.get(format!("http://{api}{path}")).send().await.map(|r| r.status().as_u16());
    until("the refusals to be counted", async || {
        let text = http.get(format!("http://{api}/metrics")).send().await.unwrap().text().await.unwrap();
        metric_in(&text, "cw_sidecar_line_connections_refused_total", "input=\"statsd\",reason=\"max_connections\"")
            >= 1_100.0 - 256.0
    })
    .await;
    assert_eq!(get("/healthz").await.expect("/healthz answers"), 200);
    let posted = http
        .post(format!("http://{api}/v1/metrics"))
        .json(&json!([{"name": "WhileHeld", "value": 1}]))
        .send()
        .await
        .expect("ingest answers");
    assert_eq!(posted.status(), 202);
    let flushed = http.post(format!("http://{api}/v1/flush")).send().await.expect("/v1/flush answers");
    assert_eq!(flushed.status(), 200);
    let text = http.get(format!("http://{api}/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric_in(&text, "cw_sidecar_line_connections_active", "input=\"statsd\""), 256.0, "{text}");
    let fds = open_fds(pid);
    println!("1,100 idle connections under ulimit -n 1024: {fds} descriptors open");
    assert!(fds < 1024 - 64, "descriptors kept free: {fds} open");
    // The refusals are logged at most once per 10 s, with how many.
    let refusals = sidecar.lines_with("closed at once");
    assert!((1..=2).contains(&refusals.len()), "{refusals:?}");
    drop(held);
    sidecar.stop().await;
}

/// With `auth_token` set, the inputs that cannot carry a token are named at startup.
#[tokio::test]
async fn auth_token_with_a_line_input_warns_naming_the_inputs() {
    let (udp, tcp) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let sidecar = Limited::start(
        4096,
        None,
        &[
            "--listen",
            "127.0.0.1:0",
            "--namespace",
            "Auth",
            "--auth-token",
            "s3cret",
            "--statsd-udp-address",
            &udp,
            "--emf-tcp-address",
            &tcp,
        ],
    )
    .await;
    let warned = sidecar.lines_with("auth_token does not cover");
    assert_eq!(warned.len(), 1, "{:?}", sidecar.lines_with(""));
    let line = &warned[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&format!("statsd (udp {udp})")) && line.contains(&format!("emf (tcp {tcp})")), "{line}");
    assert!(!line.contains("s3cret"), "{line}");
    sidecar.stop().await;
}
