//! Prometheus scraping against real HTTP targets on 127.0.0.1, on a manual clock so that each
//! round of scrapes happens when the test says: what reaches the fake CloudWatch is compared
//! exactly with what the targets counted.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cw_sidecar::clock::{ManualClock, SharedClock};
use cw_sidecar::config::{Config, TargetConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{Stats, TestApp, now_ms, until};

/// What a fake target answers to its n-th scrape (from 1).
pub(crate) type Answer = Box<dyn Fn(usize) -> (Vec<(&'static str, String)>, Vec<u8>) + Send + Sync>;

/// A target on 127.0.0.1 answering each request with `answer`, after `delay` (real time).
pub struct FakeTarget {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    /// The head of each request, as it came.
    pub heads: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeTarget {
    pub async fn start(delay: Duration, answer: Answer) -> FakeTarget {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, answer, seen) = (hits.clone(), Arc::new(answer), heads.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (count, answer, seen) = (count.clone(), answer.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
                    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(delay).await;
                    let (headers, body) = answer(n);
                    let mut response =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                    for (k, v) in headers {
                        response.push_str(&format!("{k}: {v}\r\n"));
                    }
                    response.push_str("\r\n");
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.write_all(&body).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        FakeTarget { addr, hits, heads }
    }

    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// An address where nothing listens.
async fn nothing_listens() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/metrics")
}

/// A manual clock at the start of the current minute, shared with the app.
pub(crate) fn minute_clock() -> (Arc<ManualClock>, SharedClock) {
    let now = now_ms();
    let clock = ManualClock::new(now - now % 60_000);
    (clock.clone(), clock)
}

pub(crate) async fn scrapes(app: &TestApp, target: &str, outcome: &str) -> f64 {
    app.metric("cw_sidecar_scrapes_total", &format!("target=\"{target}\",outcome=\"{outcome}\"")).await
}

#[tokio::test]
async fn a_down_a_slow_and_a_garbage_target_never_stop_the_good_ones() {
    // Good: OpenMetrics, plain; its counter grows by 5 per scrape, its histogram by 2
    // observations (0.05 and 0.3) per scrape.
    let om = FakeTarget::start(
        Duration::ZERO,
        Box::new(|n| {
            let text = format!(
                "# TYPE jobs counter\njobs_total{{queue=\"q1\"}} {}\n# TYPE work_seconds histogram\n\
                 work_seconds_bucket{{le=\"0.1\"}} {n}\nwork_seconds_bucket{{le=\"1\"}} {}\nwork_seconds_bucket{{le=\"+Inf\"}} {}\n\
                 work_seconds_sum {}\nwork_seconds_count {}\n# TYPE depth gauge\ndepth {n}\n# EOF\n",
                5 * n,
                2 * n,
                2 * n,
                0.35 * n as f64,
                2 * n
            );
            (vec![("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8".into())], text.into_bytes())
        }),
    )
    .await;
    // Good: text 0.0.4, gzipped.
    let text = FakeTarget::start(
        Duration::ZERO,
        Box::new(|n| {
            let text = format!("# TYPE hits_total counter\nhits_total {}\n", 3 * n);
            (
                vec![("content-type", "text/plain; version=0.0.4".into()), ("content-encoding", "gzip".into())],
                gzip(&text),
            )
        }),
    )
    .await;
    let slow = FakeTarget::start(Duration::from_secs(3600), Box::new(|_| (vec![], b"slow 1\n".to_vec()))).await;
    let garbage = FakeTarget::start(
        Duration::ZERO,
        Box::new(|_| (vec![("content-type", "text/html".into())], b"<html><body>not metrics</body></html>".to_vec())),
    )
    .await;
    let down = nothing_listens().await;
    let urls = [om.url(), text.url(), slow.url(), garbage.url(), down.clone()];
    let (clock, shared) = minute_clock();
    let app = TestApp::spawn_with_clock(
        |c: &mut Config| {
            c.self_metrics_namespace = "Self".into();
            c.scrape.namespace = Some("Scraped".into());
            c.scrape.interval = Duration::from_secs(10);
            c.scrape.timeout = Duration::from_secs(2);
            c.scrape.targets = urls.iter().map(|u| TargetConfig::new(u.clone())).collect();
        },
        shared,
    )
    .await;
    let rounds = 4;
    for round in 1..=rounds {
        let r = round as f64;
        until("the good targets, the garbage and the down one to be scraped", async || {
            scrapes(&app, &urls[0], "success").await == r
                && scrapes(&app, &urls[1], "success").await == r
                && scrapes(&app, &urls[3], "malformed").await == r
                && scrapes(&app, &urls[4], "down").await == r
        })
        .await;
        // The slow one holds its scrape until its timeout passes on the clock.
        assert_eq!(scrapes(&app, &urls[2], "timeout").await, r - 1.0);
        clock.advance(Duration::from_secs(2));
        until("the slow target to time out", async || scrapes(&app, &urls[2], "timeout").await == r).await;
        if round < rounds {
            clock.advance(Duration::from_secs(8));
        }
    }
    for (url, up) in urls.iter().zip([1.0, 1.0, 0.0, 0.0, 0.0]) {
        assert_eq!(app.metric("cw_sidecar_scrape_up", &format!("target=\"{url}\"")).await, up, "{url}");
    }
    assert_eq!(app.metric("cw_sidecar_scrape_series_published", &format!("target=\"{}\"", urls[0])).await, 3.0);
    assert_eq!(
        app.metric("cw_sidecar_scrape_series_refused_total", &format!("target=\"{}\",reason=\"malformed\"", urls[3]))
            .await,
        rounds as f64,
        "the garbage line of each scrape is counted"
    );
    let (status, _) = app.flush().await;
    assert_eq!(status, 200);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let datums = fake.datums("Scraped");
    let named = |name: &str| datums.iter().filter(|d| d.name == name).collect::<Vec<_>>();
    // The first scrape is the baseline: rounds - 1 increases of each.
    let jobs = Stats::of_datums(named("jobs_total"));
    assert_eq!((jobs.count, jobs.sum), ((rounds - 1) as f64, 5.0 * (rounds - 1) as f64));
    assert!(named("jobs_total").iter().all(|d| d.unit.as_deref() == Some("Count") && d.dimensions["queue"] == "q1"));
    let work = Stats::of_datums(named("work_seconds"));
    assert_eq!(work.count, 2.0 * (rounds - 1) as f64);
    assert!((work.sum - 0.35 * (rounds - 1) as f64).abs() < 1e-9, "{work:?}");
    assert!(work.min <= 0.1 && work.max > 0.1 && work.max <= 1.0, "{work:?}");
    assert_eq!(Stats::of_datums(named("hits_total")).sum, 3.0 * (rounds - 1) as f64);
    assert_eq!(Stats::of_datums(named("depth")).count, rounds as f64, "gauges from the first scrape on");
    assert!(named("slow").is_empty());
    // The self metrics carry each target's health.
    let own = fake.datums("Self");
    // (Recorded at each flush: the explicit one and shutdown's.)
    let mut up: Vec<(&str, f64)> = own
        .iter()
        .filter(|d| d.name == "ScrapeUp")
        .map(|d| (d.dimensions["Target"].as_str(), Stats::of_datums([d]).sum))
        .collect();
    up.sort_by(|a, b| a.partial_cmp(b).unwrap());
    up.dedup();
    assert_eq!(up.len(), 5, "{up:?}");
    assert!(up.contains(&(urls[0].as_str(), 1.0)) && up.contains(&(down.as_str(), 0.0)), "{up:?}");
    assert!(own.iter().any(|d| d.name == "ScrapeSeriesPublished" && d.dimensions["Target"] == urls[0]));
    assert!(own.iter().any(|d| d.name == "ScrapeSeriesCapped"));
    assert!(own.iter().any(|d| d.name == "ScrapeDuration" && d.unit.as_deref() == Some("Seconds")));
}

#[tokio::test]
async fn the_cap_refuses_series_and_counts_them_and_a_truncated_openmetrics_answer_publishes_nothing() {
    let target = FakeTarget::start(
        Duration::ZERO,
        Box::new(|n| {
            let mut text: String = (0..5).map(|i| format!("sessions{{device_id=\"d{i}\"}} {n}\n")).collect();
            if n >= 3 {
                text.truncate(text.len() / 2); // cut short: no `# EOF`
            } else {
                text.push_str("# EOF\n");
            }
            (vec![("content-type", "application/openmetrics-text; version=1.0.0".into())], text.into_bytes())
        }),
    )
    .await;
    let url = target.url();
    let (clock, shared) = minute_clock();
    let app = TestApp::spawn_with_clock(
        |c: &mut Config| {
            c.scrape.max_series_per_target = 3;
            c.scrape.targets = vec![TargetConfig::new(url.clone())];
        },
        shared,
    )
    .await;
    for round in 1..=3 {
        if round > 1 {
            clock.advance(Duration::from_secs(15));
        }
        until("a scrape", async || target.hits.load(Ordering::SeqCst) == round).await;
        until("its outcome", async || {
            scrapes(&app, &url, "success").await + scrapes(&app, &url, "malformed").await == round as f64
        })
        .await;
    }
    assert_eq!(scrapes(&app, &url, "malformed").await, 1.0, "the truncated answer");
    let labels = format!("target=\"{url}\"");
    assert_eq!(app.metric("cw_sidecar_scrape_series_capped", &labels).await, 2.0);
    assert_eq!(app.metric("cw_sidecar_scrape_series_published", &labels).await, 3.0);
    let capped = app.metric("cw_sidecar_scrape_series_refused_total", &format!("{labels},reason=\"capped\"")).await;
    assert_eq!(capped, 4.0, "2 series refused in each of 2 scrapes");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let datums = fake.datums("Test");
    let mut devices: Vec<&str> = datums.iter().map(|d| d.dimensions["device_id"].as_str()).collect();
    devices.sort();
    devices.dedup();
    assert_eq!(devices, ["d0", "d1", "d2"]);
    assert_eq!(datums.iter().map(|d| d.values.len()).sum::<usize>(), 6, "3 series x 2 good scrapes");
}
