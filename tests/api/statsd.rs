//! StatsD over real UDP datagrams and TCP connections to the real app, compared exactly with
//! what reaches the fake CloudWatch.

use std::collections::BTreeMap;
use std::time::Duration;

use cw_sidecar::config::Config;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::Stats;
use crate::line_app::LineApp;

const NAMESPACE: &str = "StatsD";

/// The app with StatsD on 127.0.0.1:0 (UDP and TCP), publishing under [`NAMESPACE`].
async fn spawn(tune: impl FnOnce(&mut Config)) -> LineApp {
    LineApp::spawn("statsd", |c| {
        c.statsd.namespace = Some(NAMESPACE.into());
        c.statsd.receive_buffer_bytes = Some(1 << 20);
        tune(c);
    })
    .await
}

fn named<'a>(datums: &'a [ReceivedDatum], name: &str) -> Vec<&'a ReceivedDatum> {
    datums.iter().filter(|d| d.name == name).collect()
}

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn udp_and_tcp_lines_reach_cloudwatch_exactly() {
    let app = spawn(|c| c.default_dimensions = [("Host".to_string(), "h1".to_string())].into()).await;
    app.send_udp(
        "hits:1|c|@0.1\nhits:2|c\r\nlat:10:20|ms|@0.5\n\nlat:30|ms\ng:333|g\nusers:alice|s\nusers:bob|s\n\
         users:alice|s\nreq:1|c|#env:prod,canary\nreq,env=prod:2|c|#canary\nbad:1|q\n_e{1,1}:a|b\nneg:-1|ms",
    )
    .await;
    // 13 lines (blank ones are not lines); the gauge's first value must be in before TCP's `-10`.
    app.wait_received(13.0).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    tcp.write_all(b"hits:3|c\ng:").await.unwrap();
    tcp.write_all(b"-10|g\n").await.unwrap();
    app.wait_received(15.0).await;
    app.flush().await;
    let gauge_before: Vec<f64> =
        named(&app.fake.datums(NAMESPACE), "g").iter().flat_map(|d| d.values.clone()).collect();
    // The gauge's last value outlives the flush: +4 adjusts 323.
    tcp.write_all(b"g:+4|g\n").await.unwrap();
    app.wait_lines("accepted", 13.0).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"received\"").await, 16.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 2.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"ignored\"").await, 1.0);
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"unknown_type\"").await, 1.0);
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"value\"").await, 1.0);
    assert_eq!(app.counter("udp_dropped_total", "reason=\"buffer_full\"").await, 0.0);
    assert_eq!(app.counter("udp_dropped_total", "reason=\"kernel\"").await, 0.0);
    app.flush().await;
    drop(tcp);
    let fake = app.shutdown().await;
    let datums = fake.datums(NAMESPACE);

    let hits = named(&datums, "hits");
    assert_eq!(Stats::of_datums(hits.iter().copied()).sum, 15.0, "1/0.1 + 2 + 3");
    assert!(hits.iter().all(|d| d.unit.as_deref() == Some("Count") && d.dimensions == dims(&[("Host", "h1")])));

    let lat = named(&datums, "lat");
    assert_eq!(Stats::of_datums(lat.iter().copied()), Stats { count: 5.0, sum: 90.0, min: 10.0, max: 30.0 });
    assert!(lat.iter().all(|d| d.unit.as_deref() == Some("Milliseconds")));

    // Gauges: 333 then -10 in the first flush, +4 in the second: etsy's 327.
    let mut gauge_before = gauge_before;
    gauge_before.sort_by(f64::total_cmp);
    assert_eq!(gauge_before, vec![323.0, 333.0]);
    let g = named(&datums, "g");
    let last = g.last().unwrap();
    assert_eq!((last.values.as_slice(), last.unit.as_deref()), ([327.0].as_slice(), Some("None")));

    // Tags are dimensions; Influx-style and DogStatsD tags give the same series.
    let req = named(&datums, "req");
    assert_eq!(Stats::of_datums(req.iter().copied()).sum, 3.0);
    assert!(req.iter().all(|d| d.dimensions == dims(&[("Host", "h1"), ("canary", "<empty>"), ("env", "prod")])));

    // Sets: distinct members of the window, published when it closes (here: at shutdown).
    let users = named(&datums, "users");
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].values, vec![2.0]);
    assert!(named(&datums, "bad").is_empty() && named(&datums, "neg").is_empty());
}

#[tokio::test]
async fn an_overlong_tcp_line_is_skipped_and_the_connection_stays_open() {
    let app = spawn(|_| {}).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    let long = format!("long:{}|c\n", "1".repeat(70 * 1024));
    tcp.write_all(b"before:1|c\n").await.unwrap();
    tcp.write_all(long.as_bytes()).await.unwrap();
    tcp.write_all(b"after:1|c\n").await.unwrap();
    app.wait_received(3.0).await;
    // Still open: a later line on the same connection arrives.
    tokio::time::sleep(Duration::from_millis(50)).await;
    tcp.write_all(b"later:1|c").await.unwrap();
    tcp.shutdown().await.unwrap();
    app.wait_lines("accepted", 3.0).await;
    assert_eq!(app.counter("input_lines_rejected_total", "reason=\"too_long\"").await, 1.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"received\"").await, 4.0);
    let fake = app.shutdown().await;
    let mut names: Vec<String> = fake.datums(NAMESPACE).into_iter().map(|d| d.name).collect();
    names.sort();
    assert_eq!(names, vec!["after", "before", "later"]);
}

#[tokio::test]
async fn tcp_pushes_back_while_the_buffer_is_full_and_loses_nothing() {
    // One series-window fits: the second series waits until a flush makes room.
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    tcp.write_all(b"first:1|c\n").await.unwrap();
    app.wait_lines("accepted", 1.0).await;
    tcp.write_all(b"second:1|c\n").await.unwrap();
    app.wait_received(2.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"accepted\"").await, 1.0, "second waits");
    app.flush().await;
    for _ in 0..100 {
        if app.counter("input_lines_total", "outcome=\"accepted\"").await == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.counter("input_lines_total", "outcome=\"dropped\"").await, 0.0);
    drop(tcp);
    let fake = app.shutdown().await;
    let mut names: Vec<String> = fake.datums(NAMESPACE).into_iter().map(|d| d.name).collect();
    names.sort();
    assert_eq!(names, vec!["first", "second"]);
}

#[tokio::test]
async fn udp_counts_what_the_full_buffer_refuses() {
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    app.send_udp("first:1|c").await;
    app.wait_lines("accepted", 1.0).await;
    app.send_udp("second:1|c\nthird:1|c").await;
    app.wait_lines("dropped", 2.0).await;
    assert_eq!(app.counter("udp_dropped_total", "reason=\"too_large\"").await, 2.0);
    app.send_udp("fourth:1|c").await;
    app.wait_lines("dropped", 3.0).await;
    assert_eq!(app.counter("udp_dropped_total", "reason=\"buffer_full\"").await, 1.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"dropped\"").await, 3.0);
    let fake = app.shutdown().await;
    assert_eq!(fake.datums(NAMESPACE).len(), 1);
}

/// hot-shots, the Node StatsD/DogStatsD client, over UDP and TCP. It needs the client from npm
/// (`scripts/clients.sh`), so it is ignored by a plain `cargo test`; `scripts/test.sh` installs
/// the client and runs it, and run without the client it fails.
#[tokio::test]
#[ignore = "needs hot-shots from npm (scripts/clients.sh); scripts/test.sh runs it"]
async fn hot_shots_from_npm_over_udp_and_tcp() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    assert!(
        dir.join("node_modules/hot-shots/package.json").exists(),
        "hot-shots is not installed: run scripts/clients.sh"
    );
    let app = spawn(|_| {}).await;
    for (protocol, port, prefix) in [("udp", app.udp.port(), "u."), ("tcp", app.tcp.port(), "t.")] {
        let out = tokio::process::Command::new("node")
            .args(["hot_shots.js", protocol, &port.to_string(), prefix])
            .current_dir(&dir)
            .output()
            .await
            .expect("node runs");
        assert!(out.status.success(), "{protocol}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // 11 lines per protocol, all accepted.
    app.wait_lines("accepted", 22.0).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 0.0);
    let fake = app.shutdown().await;
    let datums = fake.datums(NAMESPACE);
    for prefix in ["u.", "t."] {
        let get = |name: &str| named(&datums, &format!("{prefix}{name}"));
        let stats = |name: &str| Stats::of_datums(get(name).into_iter());
        let requests = get("requests");
        assert_eq!(stats("requests").sum, 7.0, "{prefix}");
        assert!(requests.iter().all(|d| d.dimensions == dims(&[("env", "prod"), ("route", "/a")])), "{requests:?}");
        assert_eq!(stats("latency"), Stats { count: 2.0, sum: 100.0, min: 42.0, max: 58.0 });
        assert!(get("latency").iter().all(|d| d.unit.as_deref() == Some("Milliseconds")));
        assert_eq!(stats("size").sum, 3.0);
        assert_eq!(stats("dist").sum, 9.0);
        assert_eq!((stats("queue").min, stats("queue").max), (7.0, 10.0));
        let users = get("users");
        assert_eq!(users.len(), 1, "{prefix}: {users:?}");
        assert_eq!(users[0].values, vec![2.0]);
    }
}

/// The venv `scripts/clients.sh` makes for the Python clients; a test that needs it fails
/// without it.
fn python_clients() -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let python = dir.join(".venv/bin/python");
    assert!(python.exists(), "the Python clients are not installed: run scripts/clients.sh");
    (dir, python)
}

async fn run_python(dir: &std::path::Path, python: &std::path::Path, args: &[&str]) {
    let out = tokio::process::Command::new(python).args(args).current_dir(dir).output().await.expect("python runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The gauge values of a series in the order they were published.
fn gauge_values(datums: &[&ReceivedDatum]) -> Vec<f64> {
    datums.iter().flat_map(|d| d.values.clone()).collect()
}

/// `statsd` from PyPI (StatsClient over UDP, TCPStatsClient over TCP): counters with a sample
/// rate, timers, gauges with deltas, sets and a pipeline. The client's sampling is made
/// deterministic (tests/clients/statsd_client.py) so every `|@0.5` line arrives.
#[tokio::test]
#[ignore = "needs statsd from PyPI (scripts/clients.sh); scripts/test.sh runs it"]
async fn python_statsd_from_pypi_over_udp_and_tcp() {
    let (dir, python) = python_clients();
    let app = spawn(|_| {}).await;
    for (protocol, port, prefix) in [("udp", app.udp.port(), "u"), ("tcp", app.tcp.port(), "t")] {
        run_python(&dir, &python, &["statsd_client.py", protocol, &port.to_string(), prefix]).await;
        // The gauge lines of the second protocol must not race the first's.
        let lines = if protocol == "udp" { 18.0 } else { 36.0 };
        app.wait_lines("accepted", lines).await;
    }
    assert_eq!(app.counter("input_lines_total", "outcome=\"received\"").await, 36.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 0.0);
    let fake = app.shutdown().await;
    let datums = fake.datums(NAMESPACE);
    for prefix in ["u.", "t."] {
        let get = |name: &str| named(&datums, &format!("{prefix}{name}"));
        let stats = |name: &str| Stats::of_datums(get(name).into_iter());
        // 1 + 1 + 1 + 5/0.5 - 2
        assert_eq!(stats("requests").sum, 11.0, "{prefix}");
        assert!(get("requests").iter().all(|d| d.unit.as_deref() == Some("Count") && d.dimensions.is_empty()));
        // 42, and 58 weighted 2 by its rate
        assert_eq!(stats("latency"), Stats { count: 3.0, sum: 158.0, min: 42.0, max: 58.0 }, "{prefix}");
        assert!(get("latency").iter().all(|d| d.unit.as_deref() == Some("Milliseconds")));
        // 7, +3, -4, then `-2` sent by the client as `0` and `-2`
        assert_eq!(gauge_values(&get("queue")), vec![7.0, 10.0, 6.0, 0.0, -2.0], "{prefix}");
        assert!(get("queue").iter().all(|d| d.unit.as_deref() == Some("None")));
        let users = get("users");
        assert_eq!(users.len(), 1, "{prefix}: {users:?}");
        assert_eq!(users[0].values, vec![2.0]);
        assert_eq!(stats("piped").sum, 4.0);
        assert_eq!(stats("piped_latency"), Stats { count: 1.0, sum: 7.0, min: 7.0, max: 7.0 });
        assert_eq!(gauge_values(&get("piped_gauge")), vec![1.5]);
    }
}

/// `datadog` from PyPI (DogStatsd, buffered: several lines per datagram) over UDP: DogStatsD
/// tags and constant tags become dimensions, sample rates weight counters and timers, and the
/// `|card:` field it appends is ignored. Sampling is made deterministic as above.
#[tokio::test]
#[ignore = "needs datadog from PyPI (scripts/clients.sh); scripts/test.sh runs it"]
async fn python_datadog_from_pypi_over_udp() {
    let (dir, python) = python_clients();
    let app = spawn(|_| {}).await;
    run_python(&dir, &python, &["datadog_client.py", &app.udp.port().to_string(), "dd"]).await;
    app.wait_lines("accepted", 14.0).await;
    assert_eq!(app.counter("input_lines_total", "outcome=\"received\"").await, 14.0);
    assert_eq!(app.counter("input_lines_total", "outcome=\"rejected\"").await, 0.0);
    let fake = app.shutdown().await;
    let datums = fake.datums(NAMESPACE);
    let get = |name: &str, tags: &[(&str, &str)]| -> Vec<&ReceivedDatum> {
        named(&datums, &format!("dd.{name}")).into_iter().filter(|d| d.dimensions == dims(tags)).collect()
    };
    let prod = [("env", "prod")];
    let route_a = [("env", "prod"), ("route", "/a")];
    // 1 + 2/0.25 - 1 for /a; /b carries the bare tag `canary`
    assert_eq!(Stats::of_datums(get("requests", &route_a)).sum, 8.0);
    let route_b = get("requests", &[("canary", "<empty>"), ("env", "prod"), ("route", "/b")]);
    assert_eq!(Stats::of_datums(route_b).sum, 4.0);
    assert_eq!(named(&datums, "dd.requests").len(), 2, "two series, nothing else");
    let latency = get("latency", &route_a);
    assert_eq!(Stats::of_datums(latency.iter().copied()), Stats { count: 3.0, sum: 80.0, min: 20.0, max: 30.0 });
    assert!(latency.iter().all(|d| d.unit.as_deref() == Some("Milliseconds")));
    assert_eq!(Stats::of_datums(get("size", &prod)), Stats { count: 2.0, sum: 8.0, min: 3.0, max: 5.0 });
    assert_eq!(Stats::of_datums(get("dist", &prod)), Stats { count: 1.0, sum: 9.0, min: 9.0, max: 9.0 });
    assert_eq!(gauge_values(&get("queue", &prod)), vec![7.0, 10.0]);
    let users = get("users", &prod);
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].values, vec![2.0]);
}

#[tokio::test]
async fn lines_sent_just_before_shutdown_are_published() {
    let app = spawn(|_| {}).await;
    let mut tcp = TcpStream::connect(app.tcp).await.unwrap();
    tcp.write_all(b"tcp:1|c\ntcp:2|c\n").await.unwrap();
    app.send_udp("udp:1|c\nudp:2|c").await;
    // The connection stays open: shutdown reads what was sent without waiting for the end.
    let fake = app.shutdown().await;
    let datums = fake.datums(NAMESPACE);
    assert_eq!(Stats::of_datums(named(&datums, "tcp")).sum, 3.0);
    assert_eq!(Stats::of_datums(named(&datums, "udp")).sum, 3.0);
    drop(tcp);
}
