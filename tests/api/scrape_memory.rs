//! Issue 25, finding 9: a 6.2 MB answer of 300k series took the sidecar's RSS to 220–280 MB,
//! 15 such targets together to 801 MB, and the first scrape of one logged 10,000 "series
//! refused" warnings. The sidecar runs as a process of its own; its peak RSS (`VmHWM`) is read
//! from /proc, with margins wide enough not to flake and narrow enough to fail as before.

use std::sync::Arc;
use std::time::Duration;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{Sidecar, proc_status_kb, until};
use crate::scrape::FakeTarget;

/// 300,000 gauge series in 6.3 MB, as the answer.
fn hostile_answer() -> Arc<Vec<u8>> {
    let mut text = String::from("# TYPE reqs gauge\n");
    for i in 0..300_000 {
        text.push_str(&format!("reqs{{id=\"{i:07}\"}} 1\n"));
    }
    assert!((6_000_000..6_600_000).contains(&text.len()), "{}", text.len());
    Arc::new(text.into_bytes())
}

async fn hostile_target(body: Arc<Vec<u8>>) -> FakeTarget {
    FakeTarget::start(Duration::ZERO, Box::new(move |_| (vec![], body.as_ref().clone()))).await
}

async fn outcomes(bin: &Sidecar, outcome: &str) -> f64 {
    let text = bin.metrics().await;
    text.lines()
        .filter(|l| l.starts_with("cw_sidecar_scrapes_total{") && l.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn peak_mb(bin: &Sidecar) -> u64 {
    proc_status_kb(bin.pid(), "VmHWM") / 1024
}

#[tokio::test]
async fn an_answer_of_300k_series_fails_at_the_sample_limit_within_bounded_memory() {
    let target = hostile_target(hostile_answer()).await;
    let fake = FakeCloudWatch::start().await;
    let args = ["--namespace", "Mem", "--scrape-interval", "1s", "--scrape-targets", &target.url()];
    let bin = Sidecar::start(&fake, &args).await;
    until("two scrapes over the sample limit", async || outcomes(&bin, "too_many_samples").await >= 2.0).await;
    let peak = peak_mb(&bin);
    println!("peak RSS, 300k series over max_samples_per_scrape: {peak} MB");
    assert!(peak < 120, "peak RSS {peak} MB (was 220–280 MB before the bound)");
    assert_eq!(outcomes(&bin, "success").await, 0.0);
    bin.kill().await;
}

#[tokio::test]
async fn all_300k_series_parsed_stay_bounded_and_log_one_summary_line_per_scrape() {
    let target = hostile_target(hostile_answer()).await;
    let fake = FakeCloudWatch::start().await;
    let url = target.url();
    let args = [
        "--namespace",
        "Mem",
        "--scrape-interval",
        "1s",
        "--scrape-max-samples-per-scrape",
        "300000",
        "--scrape-targets",
        &url,
    ];
    let bin = Sidecar::start(&fake, &args).await;
    until("two scrapes", async || outcomes(&bin, "success").await >= 2.0).await;
    let peak = peak_mb(&bin);
    println!("peak RSS, 300k series parsed and capped: {peak} MB");
    // Finding 9 asks for < 200 MB: grouping a family into series no longer copies it (137 MB
    // measured in the debug build, 244 MB before).
    assert!(peak < 200, "peak RSS {peak} MB (137 MB when this bound was set)");
    let capped = bin.metric("cw_sidecar_scrape_series_capped", &format!("target=\"{url}\"")).await;
    assert_eq!(capped, 299_000.0);
    let log = bin.log();
    let refused = log.iter().filter(|l| l.contains("series refused")).count();
    let summaries = log.iter().filter(|l| l.contains("series not published")).count();
    assert_eq!(refused, 0, "no line per refused series");
    assert!((1..=3).contains(&summaries), "one summary per scrape at most: {summaries}");
    let first = log.iter().find(|l| l.contains("series not published")).unwrap();
    assert!(first.contains("capped=299000") && first.contains("newly_capped=10000"), "{first}");
    assert!(first.len() < 2_000, "a few examples, not 10,000: {} bytes", first.len());
    bin.kill().await;
}

#[tokio::test]
async fn fifteen_hostile_targets_together_stay_bounded() {
    let body = hostile_answer();
    let mut targets = Vec::new();
    for _ in 0..15 {
        targets.push(hostile_target(body.clone()).await);
    }
    let urls = targets.iter().map(FakeTarget::url).collect::<Vec<_>>().join(",");
    let fake = FakeCloudWatch::start().await;
    let args = ["--namespace", "Mem", "--scrape-interval", "1s", "--scrape-targets", &urls];
    let bin = Sidecar::start(&fake, &args).await;
    until("every target scraped twice", async || outcomes(&bin, "too_many_samples").await >= 30.0).await;
    let peak = peak_mb(&bin);
    println!("peak RSS, 15 targets of 300k series: {peak} MB");
    assert!(peak < 400, "peak RSS {peak} MB (was 801 MB)");
    bin.kill().await;
}
