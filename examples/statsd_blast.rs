//! A StatsD load generator for scripts/bench-udp.sh: sends one line per UDP datagram to
//! `target`, `rate` datagrams per second in bursts of `burst` sent back to back, for `seconds`,
//! then prints how many it sent. Bounded in count and time; targets 127.0.0.1 only.
//!
//!   statsd_blast <target> <rate> <burst> <seconds>

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, rate, burst, seconds] = args.as_slice() else {
        eprintln!("usage: statsd_blast <target> <rate> <burst> <seconds>");
        std::process::exit(2);
    };
    let target: SocketAddr = target.parse().expect("target is an address");
    assert!(target.ip().is_loopback(), "statsd_blast only sends to a loopback address");
    let rate: u64 = rate.parse().expect("rate is a number");
    let burst: u64 = burst.parse().expect("burst is a number");
    let seconds: u64 = seconds.parse().expect("seconds is a number");
    assert!(rate > 0 && burst > 0 && seconds > 0 && seconds <= 600);
    let total = rate * seconds;
    let period = Duration::from_secs_f64(burst as f64 / rate as f64);

    // A realistic mix of types and series: counters with DogStatsD tags, timers with a sample
    // rate, gauges and sets, over 60 series.
    let lines: Vec<String> = (0..600)
        .map(|i| match i % 4 {
            0 => format!("bench.requests:1|c|#route:/r{},env:prod", i % 6),
            1 => format!("bench.latency:{}.{}|ms|@0.5|#route:/r{}", 5 + i % 90, i % 10, i % 6),
            2 => format!("bench.queue:{}|g|#shard:{}", i % 50, i % 5),
            _ => format!("bench.users:u{}|s", i % 97),
        })
        .collect();

    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(target).expect("connect");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds) + Duration::from_secs(5);
    let (mut sent, mut failed) = (0u64, 0u64);
    let mut next = start;
    while sent + failed < total && Instant::now() < deadline {
        for _ in 0..burst.min(total - sent - failed) {
            let line = &lines[((sent + failed) % lines.len() as u64) as usize];
            match socket.send(line.as_bytes()) {
                Ok(_) => sent += 1,
                Err(_) => failed += 1,
            }
        }
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!("sent {sent} failed {failed} seconds {elapsed:.3}");
}
