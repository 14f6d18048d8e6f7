//! Issue 23's ceiling over what the other budgets do not hold: the spool's replay at start
//! (a log larger than the ceiling, read in pieces of its share) and the UDP listener's
//! queues (its batches and receive buffer sized from theirs), with `max_memory = 128MiB` as
//! the other hostile loads of [`crate::memory_ceiling`].

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::fake_cloudwatch::{FakeCloudWatch, ReceivedDatum};
use crate::helpers::{Sidecar, mid_window_ms, proc_status_kb, start_prober, until};
use crate::limited::free_port;
use crate::memory_ceiling::{CEILING_MB, alone, post, start};
use crate::spool::SpoolDir;

/// `n` records of as many series, each named by a dimension value of 900 characters (each
/// record costs the log about 1 KB, its series' key, so that a large log is few records to
/// replay), of 8 values, in one JSON array.
fn records(n: usize) -> String {
    let (ts, pad) = (mid_window_ms(), "s".repeat(900));
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"M","value":{},"timestamp":{ts},"dimensions":{{"Shard":"{i:04}{pad}"}}}}"#, i % 8))
        .collect();
    format!("[{}]", items.join(","))
}

/// The samples a datum stands for.
fn samples(d: &ReceivedDatum) -> f64 {
    match d.statistics {
        Some([count, ..]) => count,
        None if d.counts.is_empty() => d.values.len() as f64,
        None => d.counts.iter().sum(),
    }
}

/// The log's segments made into one of `copies` times their bytes: every frame in it is a
/// whole record, so the replay reads each copy's records as records of their own.
fn grow_log(segments: &[PathBuf], copies: usize) -> u64 {
    let mut once = Vec::new();
    for path in segments {
        once.extend(std::fs::read(path).unwrap());
    }
    let target: &Path = &segments[0];
    for path in &segments[1..] {
        std::fs::remove_file(path).unwrap();
    }
    use std::io::Write;
    let mut file = std::fs::File::create(target).unwrap();
    for _ in 0..copies {
        file.write_all(&once).unwrap();
    }
    file.sync_all().unwrap();
    (once.len() * copies) as u64
}

#[test]
fn a_spool_log_larger_than_the_ceiling_replays_completely_within_it() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        let dir = SpoolDir::new("replay-ceiling");
        let spool = ["--spool-dir", dir.0.to_str().unwrap(), "--spool-sync", "periodic", "--flush-interval", "1h"];
        let plain = ["--namespace", "Mem", "--self-metrics-namespace", ""];
        // A run without a ceiling logs 4 MiB of records, and is killed before a flush.
        let writer = Sidecar::start(&fake, &[plain.as_slice(), &spool].concat()).await;
        let mut accepted = 0usize;
        while dir.files("wal-").iter().map(|p| p.metadata().unwrap().len()).sum::<u64>() < 4 << 20 {
            let response = post(&writer, records(1_000)).await;
            assert_eq!(response.status(), 202);
            accepted += 1_000;
        }
        let barrier = writer.metric("cw_sidecar_records_accepted_total", "").await;
        assert_eq!(barrier, accepted as f64);
        writer.kill().await;
        assert!(fake.datums("Mem").is_empty(), "published before the kill");
        // Made 32 times as large: over the ceiling, some 70 times the replay's share of it.
        let copies = 32;
        // The segments in the order of their ids (zero-padded in their names).
        let bytes = grow_log(&dir.files("wal-"), copies);
        assert!(bytes > CEILING_MB << 20, "{bytes}");
        let expected = (accepted * copies) as f64;

        let started = Instant::now();
        let args = [["--max-memory", "128MiB"].as_slice(), &plain, &spool].concat();
        // The debug build reads and checks 150 MB slowly on a busy machine.
        let bin = Sidecar::start_within(&fake, &args, Duration::from_secs(180)).await;
        let (stop, prober) = start_prober(bin.addr().to_string());
        let replayed = bin.metric("cw_sidecar_spool_replayed_total", "kind=\"records\"").await;
        let peak = proc_status_kb(bin.pid(), "VmHWM") / 1024;
        println!(
            "replay of a {} MB log ({expected} records): peak RSS {peak} MB of max_memory {CEILING_MB} MiB, ready in {:.1} s",
            bytes / 1_000_000,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(replayed, expected, "records replayed");
        assert!(peak <= CEILING_MB, "peak RSS {peak} MB over max_memory {CEILING_MB} MiB during the replay");
        let share = bin.metric("cw_sidecar_memory_budget_bytes", "budget=\"spool_replay\"").await;
        assert_eq!(share, (2 << 20) as f64);
        let (status, _) = bin.flush().await;
        assert_eq!(status, 200);
        let published: f64 = fake.datums("Mem").iter().map(samples).sum();
        assert_eq!(published, expected, "samples published after the replay");
        let peak = proc_status_kb(bin.pid(), "VmHWM") / 1024;
        assert!(peak <= CEILING_MB, "peak RSS {peak} MB over max_memory {CEILING_MB} MiB after the flush");
        stop.store(true, Ordering::Relaxed);
        assert!(!prober.join().expect("/healthz answered 200 throughout").is_empty());
        bin.kill().await;
    });
}

#[test]
fn a_udp_flood_stays_under_the_ceiling_with_its_drops_counted() {
    alone(async {
        let fake = FakeCloudWatch::start().await;
        let udp = format!("127.0.0.1:{}", free_port());
        let (bin, probes) = start(&fake, &["--statsd-udp-address", &udp]).await;
        let lowered = bin.log().into_iter().find(|l| l.contains("budgets lowered")).unwrap_or_default();
        assert!(lowered.contains("statsd.receive_buffer_bytes 4.0 MiB -> 1.0 MiB"), "{lowered}");
        assert_eq!(bin.metric("cw_sidecar_memory_budget_bytes", "budget=\"udp_batch\"").await, ((2 << 20) / 10) as f64);
        let idle = proc_status_kb(bin.pid(), "VmRSS") / 1024;
        // Three senders for four seconds, one line a datagram, of 40 series.
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let senders: Vec<_> = (0..3)
            .map(|t| {
                let (stop, sent, udp) = (stop.clone(), sent.clone(), udp.clone());
                std::thread::spawn(move || {
                    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                    let pad = "p".repeat(60);
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let line = format!("flood.lines:1|c|#shard:{},thread:{t},pad:{pad}", i % 40);
                        if socket.send_to(line.as_bytes(), &udp).is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(4)).await;
        stop.store(true, Ordering::Relaxed);
        senders.into_iter().for_each(|s| s.join().unwrap());
        let sent = sent.load(Ordering::Relaxed) as f64;
        let received =
            async || bin.metric("cw_sidecar_input_lines_total", "input=\"statsd\",outcome=\"received\"").await;
        let kernel = async || bin.metric("cw_sidecar_udp_dropped_total", "input=\"statsd\",reason=\"kernel\"").await;
        // Every datagram sent was read or dropped by the kernel, and counted either way.
        until("every datagram read or counted dropped", async || received().await + kernel().await >= sent).await;
        let (received, kernel) = (received().await, kernel().await);
        let peak = proc_status_kb(bin.pid(), "VmHWM") / 1024;
        println!(
            "UDP flood: {sent} datagrams sent, {received} read, {kernel} dropped by the kernel; peak RSS {peak} MB (idle {idle} MB) of max_memory {CEILING_MB} MiB"
        );
        assert_eq!(received + kernel, sent, "datagrams read and dropped against sent");
        assert!(kernel > 0.0, "the flood never filled the receive buffer: it tested nothing");
        assert!(peak <= CEILING_MB, "peak RSS {peak} MB over max_memory {CEILING_MB} MiB");
        assert!(probes() > 0);
        bin.kill().await;
    });
}
