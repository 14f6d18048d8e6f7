//! Connections a client opens and never finishes: each is bounded in time, in number and in
//! the memory it holds, while `/healthz`, ingest and publishing keep working.

use std::io::ErrorKind;
use std::process::Stdio;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    TestApp, closed_by_server, connect, in_a_process_of_its_own, is_child_process, rss_bytes, start_prober,
};

const BIN: &str = env!("CARGO_BIN_EXE_cw-sidecar");

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// `cw_sidecar_connections_active`, asked on a connection of its own that is closed after.
async fn active_connections(addr: &str) -> u64 {
    let mut s = connect(addr).await;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let line = answer.lines().find(|l| l.starts_with("cw_sidecar_connections_active ")).unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Connections held of each kind: silent, half a head, half a body, idle.
const PER_KIND: usize = 75;
/// Connections sending a head of [`OVERSIZED_HEAD`] bytes (answered 431 at 16 KiB).
const OVERSIZED: usize = 150;
const OVERSIZED_HEAD: usize = 300 * 1024;
/// Every timeout of the app under test.
const SHORT: Duration = Duration::from_secs(2);
/// Body bytes each half-sent body sends, of a Content-Length of `max_body_bytes` (1 MiB).
const HALF_BODY: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// Room for the held bodies (75 × 64 KiB) and for ingest beside them.
const BODY_BUDGET: usize = 8 * 1024 * 1024;
/// Growth of the test process's resident memory allowed while the connections are held.
/// Without `max_header_bytes`, the oversized heads alone would hold 150 × 300 KiB = 44 MiB.
const RSS_GROWTH_BOUND: u64 = 24 * 1024 * 1024;

/// What the hostile clients send, shared by all of them.
static PAD: LazyLock<String> = LazyLock::new(|| "a".repeat(OVERSIZED_HEAD));

/// Opens one hostile connection of `kind` and sends what that kind sends.
async fn hostile(addr: &str, kind: &str) -> TcpStream {
    let mut s = connect(addr).await;
    let sent = match kind {
        // Connects and says nothing.
        "silent" => Ok(()),
        // Most of a head (12 KiB, under max_header_bytes), never its end.
        "half_head" => {
            let head = format!("POST /v1/metrics HTTP/1.1\r\nHost: sidecar\r\nX-Pad: {}", &PAD[..12 * 1024]);
            s.write_all(head.as_bytes()).await
        }
        // A whole head and 64 KiB of a 1 MiB body.
        "half_body" => {
            let head = format!(
                "POST /v1/metrics HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\n\
                 Content-Length: {MAX_BODY}\r\n\r\n{}",
                &PAD[..HALF_BODY]
            );
            s.write_all(head.as_bytes()).await
        }
        // One request answered, then kept alive with nothing more.
        "idle" => {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\n\r\n").await.unwrap();
            let mut answer = [0u8; 1024];
            let mut got = 0;
            while !answer[..got].ends_with(b"ok\n") {
                match s.read(&mut answer[got..]).await.unwrap() {
                    0 => panic!("closed before answering: {}", String::from_utf8_lossy(&answer[..got])),
                    n => got += n,
                }
            }
            Ok(())
        }
        // A head far over max_header_bytes (16 KiB by default).
        "oversized" => {
            let head = format!("GET /healthz HTTP/1.1\r\nHost: sidecar\r\nX-Pad: {}\r\n\r\n", *PAD);
            s.write_all(head.as_bytes()).await
        }
        _ => unreachable!(),
    };
    // The server may already have answered and closed (an oversized head): that is fine.
    if let Err(e) = sent {
        assert!(matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe), "{kind}: {e}");
    }
    s
}

#[test]
fn hostile_connections_are_bounded_and_the_sidecar_keeps_answering() {
    if !is_child_process() {
        return in_a_process_of_its_own("connections::hostile_connections_are_bounded_and_the_sidecar_keeps_answering");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(hostile_connections());
}

async fn hostile_connections() {
    let app = TestApp::spawn(|c| {
        c.header_read_timeout = SHORT;
        c.body_read_timeout = SHORT;
        c.idle_timeout = SHORT;
        c.max_connections = 1000;
        c.max_body_bytes = MAX_BODY;
        c.max_body_bytes_in_flight = BODY_BUDGET;
    })
    .await;
    let addr = addr(&app);
    let (status, answer) = app.post_json(json!([{"name": "Before", "value": 1}])).await;
    assert_eq!(status, 202, "{answer}");
    let baseline = rss_bytes();
    let (stop_probing, prober) = start_prober(addr.clone());

    // Each kind opens its connections one after the other, the kinds side by side.
    let kinds = ["silent", "half_head", "half_body", "idle", "oversized"];
    let opening = Instant::now();
    let openers: Vec<_> = kinds
        .iter()
        .map(|&kind| {
            let addr = addr.clone();
            let n = if kind == "oversized" { OVERSIZED } else { PER_KIND };
            tokio::spawn(async move {
                let mut streams = Vec::new();
                for _ in 0..n {
                    streams.push((hostile(&addr, kind).await, Instant::now()));
                }
                (kind, streams)
            })
        })
        .collect();
    let mut held: Vec<(&str, Vec<(TcpStream, Instant)>)> = Vec::new();
    for opener in openers {
        held.push(opener.await.unwrap());
    }
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Held now: the app still serves, publishes, and does not grow with what they sent.
    let active = app.metric("cw_sidecar_connections_active", "").await;
    let bodies_held = app.metric("cw_sidecar_body_bytes_in_flight", "").await;
    let rss_held = rss_bytes();
    let rss_growth = rss_held.saturating_sub(baseline);
    assert!(rss_growth < RSS_GROWTH_BOUND, "RSS grew by {} MiB while held", rss_growth >> 20);
    let (status, answer) = app.post_json(json!([{"name": "Held", "value": 7}])).await;
    assert_eq!(status, 202, "{answer}");
    let (status, counts) = app.flush().await;
    assert_eq!(status, 200, "{counts}");
    assert!(app.fake.datums("Test").iter().any(|d| d.name == "Held"), "published while the connections are held");
    let held_for = opening.elapsed();
    assert!(held_for < SHORT, "the machine is too slow for this test: {held_for:?} to open and check");
    assert!(active >= (4 * PER_KIND) as f64, "{active} connections active while held");
    assert_eq!(bodies_held, (PER_KIND * HALF_BODY) as f64, "the half bodies are held, and counted");

    // Every one of them is closed by the server, after its timeout (or at once when refused).
    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    let mut earliest_timeout = Duration::MAX;
    for (kind, streams) in held {
        for (s, opened) in streams {
            let got = closed_by_server(s, SHORT + Duration::from_secs(3), kind).await;
            let status = String::from_utf8_lossy(got.get(..12).unwrap_or(&got)).to_string();
            *answers.entry(format!("{kind}: {status}")).or_default() += 1;
            if kind == "silent" || kind == "half_head" {
                earliest_timeout = earliest_timeout.min(opened.elapsed());
            }
        }
    }
    stop_probing.store(true, Ordering::Relaxed);
    let latencies = prober.join().unwrap();
    let max_latency = latencies.iter().max().copied().unwrap();
    println!(
        "held {} connections and refused {OVERSIZED} oversized heads (opened in {opened_in:?}, {active} active at the \
         check); /healthz probed {} times, max {max_latency:?}; RSS {} MiB at the start, {} MiB while held (+{} MiB, \
         bound +{} MiB); answers {answers:?}",
        4 * PER_KIND,
        latencies.len(),
        baseline >> 20,
        rss_held >> 20,
        rss_growth >> 20,
        RSS_GROWTH_BOUND >> 20,
    );
    assert!(latencies.len() >= 20, "probed throughout: {}", latencies.len());
    assert!(max_latency < Duration::from_millis(100), "slowest /healthz: {max_latency:?}");
    assert!(earliest_timeout >= SHORT - Duration::from_millis(200), "closed before its timeout: {earliest_timeout:?}");
    for kind in ["silent", "half_head", "idle"] {
        assert_eq!(answers.get(&format!("{kind}: ")), Some(&PER_KIND), "closed without an answer: {answers:?}");
    }
    assert_eq!(answers.get("half_body: HTTP/1.1 408"), Some(&PER_KIND), "{answers:?}");

    let timed_out = |phase: &'static str| app.metric("cw_sidecar_connections_timed_out_total", phase);
    let refused = |reason: &'static str| app.metric("cw_sidecar_requests_refused_total", reason);
    assert_eq!(timed_out("phase=\"idle\"").await, PER_KIND as f64);
    assert_eq!(timed_out("phase=\"header\"").await, (2 * PER_KIND) as f64);
    assert_eq!(timed_out("phase=\"body\"").await, PER_KIND as f64);
    assert_eq!(refused("reason=\"body_timeout\"").await, PER_KIND as f64);
    assert_eq!(refused("reason=\"headers_too_large\"").await, OVERSIZED as f64);
    assert_eq!(app.metric("cw_sidecar_body_bytes_in_flight", "").await, 0.0);
    // Left open in the end: only the connection asking. reqwest's pooled connections are idle
    // and closed by idle_timeout too; each hostile one was counted closed above, a moment after
    // its client saw the close.
    let deadline = Instant::now() + SHORT + Duration::from_secs(1);
    loop {
        let active = active_connections(&addr).await;
        if active == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{active} connections open, counting the one asking");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn at_the_connection_limit_new_connections_are_refused_until_one_closes() {
    let app = TestApp::spawn(|c| {
        c.max_connections = 10;
        c.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = addr(&app);
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(connect(&addr).await);
    }
    // Accepted in order: the eleventh finds every slot taken, and is told so at once.
    let started = Instant::now();
    let refused = closed_by_server(connect(&addr).await, Duration::from_millis(500), "the eleventh connection").await;
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.1 503") && refused.contains("retry-after: 1"), "{refused}");
    assert!(refused.contains("max_connections"), "{refused}");
    assert!(started.elapsed() < Duration::from_millis(500));
    for s in silent {
        closed_by_server(s, Duration::from_secs(3), "a silent connection").await;
    }
    assert_eq!(app.get("/healthz").await.0, 200, "slots are free again");
    assert_eq!(app.metric("cw_sidecar_connections_refused_total", "").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_connection_limit", "").await, 10.0);
    assert_eq!(app.metric("cw_sidecar_connections_timed_out_total", "phase=\"header\"").await, 10.0);
    app.shutdown().await;
}

#[tokio::test]
async fn bodies_share_one_memory_budget_and_a_stalled_body_times_out() {
    let app = TestApp::spawn(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_body_bytes_in_flight = 64 * 1024;
        c.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut holder = connect(&addr(&app)).await;
    let head =
        "POST /v1/metrics HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n";
    holder.write_all(head.as_bytes()).await.unwrap();
    holder.write_all(&[b' '; 60 * 1024]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while app.metric("cw_sidecar_body_bytes_in_flight", "").await < (60 * 1024) as f64 {
        assert!(Instant::now() < deadline, "the held body is not counted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // 8 KiB more than the budget has left: refused at once, nothing of it accepted.
    let records: Vec<_> = (0..200).map(|i| json!({"name": "Refused", "value": i})).collect();
    let body = json!(records).to_string();
    assert!(body.len() > 5 * 1024);
    let (status, answer, headers) = app.post("application/json", body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(headers["retry-after"], "1");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("max_body_bytes_in_flight")), "{answer}");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"body_budget\"").await, 1.0);

    // The stalled body runs out of time: 408, closed, and its bytes are given back.
    let answer = closed_by_server(holder, Duration::from_secs(3), "the stalled body").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("body_read_timeout"), "{answer}");
    assert_eq!(app.metric("cw_sidecar_connections_timed_out_total", "phase=\"body\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"body_timeout\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_body_bytes_in_flight", "").await, 0.0);
    let (status, answer, _) = app.post("application/json", body).await;
    assert_eq!((status, answer["accepted"].as_u64()), (202, Some(200)), "{answer}");
    app.shutdown().await;
}

/// With few descriptors the binary lowers its connection limit, says so in its (JSON) log,
/// and shows the effective limit in /metrics.
#[tokio::test]
async fn the_open_files_limit_lowers_the_connection_limit() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut sidecar = tokio::process::Command::new("sh");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CW_SIDECAR_") || k.starts_with("AWS_")) {
        sidecar.env_remove(key);
    }
    let mut sidecar = sidecar
        .args(["-c", "ulimit -n 200 && exec \"$0\" \"$@\"", BIN])
        .args(["--dry-run", "--listen", &listen, "--max-connections", "1000", "--log-format", "json"])
        .args(["--self-metrics-namespace", ""])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = sidecar.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let mut logged = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: serde_json::Value = serde_json::from_str(&line).expect("every log line is JSON");
            logged.push(event);
            if logged.last().unwrap()["message"] == "cw-sidecar ready" {
                break;
            }
        }
    });
    read.await.expect("the sidecar became ready");
    let lowered = logged.iter().find(|e| e["max_connections"].is_u64()).expect("the lowered limit is logged");
    assert_eq!(lowered["level"], "WARN", "{lowered}");
    assert_eq!((lowered["max_connections"].as_u64(), lowered["configured"].as_u64()), (Some(136), Some(1000)));
    assert_eq!(lowered["open_files_limit"].as_u64(), Some(200));
    let metrics = reqwest::get(format!("http://{listen}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cw_sidecar_connection_limit 136"), "{metrics}");
    sidecar.start_kill().unwrap();
    sidecar.wait().await.unwrap();
}

/// Shutdown stops the server last: a connection that never finishes its body is given the
/// drain (1 s), then closed, so shutdown does not wait for the client's timeouts (30 s here).
#[tokio::test]
async fn shutdown_closes_what_never_finishes_after_the_drain() {
    let app = TestApp::spawn(|_| {}).await;
    let addr = addr(&app);
    let mut stalled = connect(&addr).await;
    let head =
        "POST /v1/metrics HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[";
    stalled.write_all(head.as_bytes()).await.unwrap();
    let silent = connect(&addr).await;
    let deadline = Instant::now() + Duration::from_secs(1);
    while app.metric("cw_sidecar_body_bytes_in_flight", "").await < 1.0 {
        assert!(Instant::now() < deadline, "the body is not being read");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let report = app.shutdown().await;
    assert!(report.complete());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    closed_by_server(silent, Duration::from_millis(100), "a silent connection at shutdown").await;
    closed_by_server(stalled, Duration::from_millis(100), "a stalled body at shutdown").await;
}
