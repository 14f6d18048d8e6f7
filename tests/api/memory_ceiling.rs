//! Issue 23's memory ceiling: hostile loads against the binary with `max_memory = 128MiB`,
//! each in a process of its own whose peak resident memory (`VmHWM`) must stay under the
//! ceiling while it lives and answers `/healthz`; and the high mark itself, reached on
//! purpose under a ceiling just above the idle process, refusing each input its own way
//! while publishing everything it had accepted.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{CPU_BOUND, Sidecar, mid_window_ms, proc_status_kb, start_prober, until};
use crate::limited::free_port;
use crate::scrape::FakeTarget;

pub(crate) const CEILING_MB: u64 = 128;

fn peak_mb(bin: &Sidecar) -> u64 {
    proc_status_kb(bin.pid(), "VmHWM") / 1024
}

/// The sidecar at 128MiB, with `/healthz` probed throughout (every probe must answer 200
/// within 2 s).
pub(crate) async fn start(fake: &FakeCloudWatch, args: &[&str]) -> (Sidecar, impl FnOnce() -> usize + use<>) {
    let mut all = vec!["--namespace", "Mem", "--max-memory", "128MiB"];
    all.extend_from_slice(args);
    let bin = Sidecar::start(fake, &all).await;
    let (stop, prober) = start_prober(bin.addr().to_string());
    let finish = move || {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        prober.join().expect("/healthz answered 200 throughout").len()
    };
    (bin, finish)
}

/// Checks the ceiling held and the sidecar lives, then stops it.
async fn check(bin: Sidecar, probes: usize, what: &str) {
    let peak = peak_mb(&bin);
    println!("{what}: peak RSS {peak} MB of max_memory {CEILING_MB} MiB, {probes} /healthz probes answered");
    assert!(peak <= CEILING_MB, "{what}: peak RSS {peak} MB over max_memory {CEILING_MB} MiB");
    assert!(probes > 0);
    assert_eq!(bin.metric("cw_sidecar_memory_max_bytes", "").await, (CEILING_MB << 20) as f64);
    bin.kill().await;
}

/// `n` records from `from` on, in one JSON array, each of the series `id(i)` names (built as
/// text: 1M records as `serde_json::Value`s cost the test more than the sidecar).
fn records(from: usize, n: usize, id: impl Fn(usize) -> String) -> String {
    let ts = mid_window_ms();
    let mut body = String::with_capacity(n * 80);
    body.push('[');
    for i in from..from + n {
        if i > from {
            body.push(',');
        }
        body.push_str(&format!(r#"{{"name":"M","value":{i},"timestamp":{ts},"dimensions":{{"Id":"{}"}}}}"#, id(i)));
    }
    body.push(']');
    body
}

pub(crate) async fn post(bin: &Sidecar, body: String) -> reqwest::Response {
    let url = format!("{}/v1/metrics", bin.base);
    bin.http.post(url).header("content-type", "application/json").body(body).send().await.unwrap()
}

/// Runs a load on a runtime of its own: these keep both cores busy, so none runs beside
/// another, nor beside a CPU-bound test or one that times its answers in a process of its own.
pub(crate) fn alone(test: impl std::future::Future<Output = ()>) {
    let _alone = CPU_BOUND.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(test);
}

#[test]
fn one_million_distinct_series_stay_under_the_ceiling() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        // Without the series budget, which would fold them into each metric's AllOther series.
        let (bin, probes) = start(&fake, &["--cardinality-enabled", "false"]).await;
        let (mut accepted, mut refused) = (0, 0);
        for batch in 0..200 {
            let body = records(batch * 5_000, 5_000, |i| format!("{i:07}"));
            match post(&bin, body).await.status().as_u16() {
                202 => accepted += 1,
                503 => refused += 1,
                s => panic!("answered {s}"),
            }
        }
        println!("1M series: {accepted} requests of 5,000 accepted, {refused} refused");
        assert!(refused > 0, "1M series fit in 128MiB without a refusal: the budgets were not lowered");
        check(bin, probes(), "1M distinct series").await;
    });
}

#[test]
fn three_hundred_slow_4mib_bodies_stay_under_the_ceiling() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        let (bin, probes) = start(&fake, &["--body-read-timeout", "30s"]).await;
        let chunk = vec![b' '; 64 * 1024];
        let mut streams = Vec::new();
        for _ in 0..300 {
            let mut s = tokio::net::TcpStream::connect(bin.addr()).await.unwrap();
            let head = format!(
                "POST /v1/metrics HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n[",
                4 << 20
            );
            s.write_all(head.as_bytes()).await.unwrap();
            streams.push(s);
        }
        // Each sends 64 KiB every 100 ms for 3 s: 2 MiB each, 600 MiB together if all were held.
        let until_at = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until_at {
            for s in &mut streams {
                let _ = s.write_all(&chunk).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refused = bin.metric("cw_sidecar_requests_refused_total", "reason=\"body_budget\"").await;
        println!("300 slow bodies: {refused} refused for the body budget");
        assert!(refused > 0.0, "300 slow 4 MiB bodies were all held");
        drop(streams);
        check(bin, probes(), "300 slow 4 MiB bodies").await;
    });
}

#[test]
fn ninety_five_thousand_distinct_values_in_one_series_stay_under_the_ceiling() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        let (bin, probes) = start(&fake, &[]).await;
        for batch in 0..19 {
            let body = records(batch * 5_000, 5_000, |_| "one".to_string());
            let status = post(&bin, body).await.status().as_u16();
            assert!(status == 202 || status == 503, "answered {status}");
        }
        let accepted = bin.metric("cw_sidecar_records_accepted_total", "").await;
        println!("95k distinct values in one series: {accepted} accepted");
        let (status, _) = bin.flush().await;
        assert_eq!(status, 200);
        let samples = |d: &crate::fake_cloudwatch::ReceivedDatum| match (&d.statistics, d.counts.is_empty()) {
            (Some(s), _) => s[0],
            (None, true) => d.values.len() as f64,
            (None, false) => d.counts.iter().sum(),
        };
        let published: f64 = fake.datums("Mem").iter().map(samples).sum();
        assert_eq!(published, accepted, "every accepted value published");
        check(bin, probes(), "95k distinct values in one series").await;
    });
}

#[test]
fn a_scrape_of_one_million_series_stays_under_the_ceiling() {
    alone(async {
        let mut text = String::from("# TYPE reqs gauge\n");
        for i in 0..1_000_000 {
            text.push_str(&format!("reqs{{id=\"{i:07}\"}} 1\n"));
        }
        let body = std::sync::Arc::new(text.into_bytes());
        let target = FakeTarget::start(Duration::ZERO, Box::new(move |_| (vec![], body.as_ref().clone()))).await;
        let fake = FakeCloudWatch::start().await;
        let url = target.url();
        let (bin, probes) = start(&fake, &["--scrape-interval", "1s", "--scrape-targets", &url]).await;
        let scrapes = async || bin.metric("cw_sidecar_scrapes_total", "").await;
        until("two scrapes of 1M series", async || scrapes().await >= 2.0).await;
        check(bin, probes(), "a scrape of 1M series").await;
    });
}

#[test]
fn five_thousand_idle_tcp_line_connections_stay_under_the_ceiling() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        let tcp = format!("127.0.0.1:{}", free_port());
        let (bin, probes) = start(&fake, &["--statsd-tcp-address", &tcp]).await;
        let mut held = Vec::new();
        for _ in 0..5_000 {
            if let Ok(s) = tokio::net::TcpStream::connect(&tcp).await {
                held.push(s);
            }
        }
        let refused = async || bin.metric("cw_sidecar_line_connections_refused_total", "").await;
        until("connections over the bound refused", async || refused().await > 0.0).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("5,000 idle TCP connections: {} refused", refused().await);
        drop(held);
        check(bin, probes(), "5,000 idle TCP line connections").await;
    });
}

/// Under a ceiling just above the idle process (its high mark 8 MiB above idle),
/// distinct series with long dimension values take resident memory over the high mark
/// before the buffer bound: HTTP is refused `503` naming memory, OTLP `UNAVAILABLE`, UDP
/// lines are dropped and counted; everything accepted before is still published, and once
/// that freed the memory, ingest is taken again.
#[test]
fn above_the_high_mark_ingest_is_refused_and_what_was_accepted_is_published() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        // The ceiling sits just above this build's idle process: its high mark (90%) some
        // 8 MiB above the idle resident memory, the low mark (80%) near it.
        let probe = Sidecar::start(&fake, &["--namespace", "Mem", "--max-memory", "1GiB"]).await;
        let mut idle = 0.0;
        until("the idle resident memory sampled", async || {
            idle = probe.metric("cw_sidecar_memory_resident_bytes", "").await;
            idle > 0.0
        })
        .await;
        probe.kill().await;
        let ceiling = format!("{}MiB", ((idle / 1_048_576.0 + 8.0) / 0.9).ceil() as u64);
        eprintln!("idle resident memory {:.1} MiB: max_memory = {ceiling}", idle / 1_048_576.0);
        let (udp, tcp) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
        let args = [
            ["--namespace", "Mem", "--max-memory", &ceiling, "--cardinality-enabled", "false"].as_slice(),
            &["--statsd-udp-address", &udp, "--statsd-tcp-address", &tcp],
        ]
        .concat();
        let bin = Sidecar::start(&fake, &args).await;
        let long = "v".repeat(1000);
        let mut refusal = None;
        for batch in 0..200 {
            let body = records(batch * 1_000, 1_000, |i| format!("{i:07}{long}"));
            let response = post(&bin, body).await;
            if response.status() == 503 {
                let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                refusal = Some((response.text().await.unwrap(), retry));
                break;
            }
        }
        let (text, retry) = refusal.expect("never refused under 40MiB");
        assert!(text.contains("memory high"), "{text}");
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(bin.metric("cw_sidecar_memory_refusing", "").await, 1.0);
        assert!(bin.metric("cw_sidecar_requests_refused_total", "reason=\"memory_high\"").await >= 1.0);
        // OTLP on the same path answers UNAVAILABLE (gRPC code 14), which its exporters retry.
        let otlp = bin
            .http
            .post(format!("{}/v1/metrics", bin.base))
            .header("content-type", "application/x-protobuf")
            .body(Vec::<u8>::new())
            .send()
            .await
            .unwrap();
        assert_eq!(otlp.status(), 503);
        let status = <crate::otlp::Status as prost::Message>::decode(otlp.bytes().await.unwrap()).unwrap();
        assert_eq!(status.code, 14, "{}", status.message);
        assert!(status.message.contains("memory high"), "{}", status.message);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..20 {
            socket.send_to(b"udp.lines:1|c\n", &udp).await.unwrap();
        }
        let dropped =
            async || bin.metric("cw_sidecar_udp_dropped_total", "input=\"statsd\",reason=\"memory_high\"").await;
        until("UDP lines dropped for memory", async || dropped().await >= 1.0).await;
        // TCP stops reading: its lines wait, neither accepted nor lost.
        let mut stream = tokio::net::TcpStream::connect(&tcp).await.unwrap();
        stream.write_all(b"tcp.lines:1|c\ntcp.lines:1|c\n").await.unwrap();
        let tcp_accepted =
            async || bin.metric("cw_sidecar_input_lines_total", "input=\"statsd\",outcome=\"accepted\"").await;
        let refusing = async || bin.metric("cw_sidecar_memory_refusing", "").await;
        let before = refusing().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let taken = tcp_accepted().await;
        // The refusal ends by itself once memory falls below the low mark (the allocator's
        // free memory is handed back while refusing): only a refusal that held throughout
        // says the lines waited.
        if before == 1.0 && refusing().await == 1.0 {
            assert_eq!(taken, 0.0, "TCP lines taken while refusing");
        } else {
            eprintln!("the refusal ended within the 300 ms the TCP lines were watched; {taken} taken");
        }
        let accepted = bin.metric("cw_sidecar_records_accepted_total", "").await;
        assert!(accepted > 0.0);
        let (status, _) = bin.flush().await;
        assert_eq!(status, 200);
        // Each record of `M` is a series of its own; StatsD lines taken once the refusal ended
        // (counted in `accepted` too) are one series per name.
        let lines = bin.metric("cw_sidecar_input_lines_total", "input=\"statsd\",outcome=\"accepted\"").await;
        let datums = fake.datums("Mem");
        let (of_m, others): (Vec<_>, Vec<_>) = datums.iter().partition(|d| d.name == "M");
        assert_eq!(of_m.len() as f64, accepted - lines, "every accepted record published");
        assert!(others.iter().all(|d| d.name == "tcp.lines" || d.name == "udp.lines"), "{others:?}");
        assert_eq!(others.is_empty(), lines == 0.0, "the lines taken published: {others:?}");
        // Published, the buffer is drained: refusing longer would free nothing more, and below
        // the high mark ingest is taken again.
        until("ingest taken again", async || refusing().await == 0.0).await;
        let status = post(&bin, records(0, 10, |i| format!("again{i}"))).await.status();
        assert_eq!(status, 202);
        until("the waiting TCP lines taken", async || tcp_accepted().await == 2.0).await;
        bin.kill().await;
    });
}
