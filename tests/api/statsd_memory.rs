//! Issue 25's byte budget for StatsD's input-side state: a gauge series is kept by a
//! fixed-size key, not by its name and tags. 50,000 gauges with 1,100-character tags (100 MB
//! of lines, each refused by the pipeline for its long dimension value, after its `+N` state
//! was made) held every key whole before: 55 MB and more.

use tokio::io::AsyncWriteExt;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{Sidecar, proc_status_kb, until};
use crate::limited::free_port;

const GAUGES: usize = 50_000;

#[tokio::test]
async fn gauges_with_long_tags_hold_fixed_size_state() {
    let fake = FakeCloudWatch::start().await;
    let tcp = format!("127.0.0.1:{}", free_port());
    let bin = Sidecar::start(&fake, &["--namespace", "Mem", "--statsd-tcp-address", &tcp]).await;
    let idle = proc_status_kb(bin.pid(), "VmRSS") / 1024;
    let mut stream = tokio::net::TcpStream::connect(&tcp).await.unwrap();
    let long = "t".repeat(1_100);
    let mut chunk = String::new();
    for i in 0..GAUGES {
        chunk.push_str(&format!("queue{i}:+1|g|#pod:{i}{long}\n"));
        if chunk.len() > 1 << 20 {
            stream.write_all(chunk.as_bytes()).await.unwrap();
            chunk.clear();
        }
    }
    stream.write_all(chunk.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let rejected = async || bin.metric("cw_sidecar_records_rejected_total", "reason=\"dimensions\"").await;
    until("every line answered", async || rejected().await >= GAUGES as f64).await;
    let peak = proc_status_kb(bin.pid(), "VmHWM") / 1024;
    println!("peak RSS, {GAUGES} gauges with 1,100-character tags: {peak} MB (idle {idle} MB)");
    assert!(peak < idle + 40, "peak RSS {peak} MB, idle {idle} MB: the gauges' keys are held whole");
    bin.kill().await;
}
