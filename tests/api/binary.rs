//! The `cw-sidecar` binary itself: configuration layering, exit codes, SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{Sidecar, sidecar_command as sidecar};

#[test]
fn print_config_layers_flag_over_env_over_file() {
    let dir = std::env::temp_dir().join(format!("cw-sidecar-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sidecar.toml");
    std::fs::write(&file, "namespace = \"File\"\nflush_interval = \"30s\"\nmax_buffered_datums = 500\n").unwrap();
    let out = sidecar()
        .args(["--config", file.to_str().unwrap(), "--print-config", "--flush-interval", "5s"])
        .env("CW_SIDECAR_FLUSH_INTERVAL", "10s")
        .env("CW_SIDECAR_MAX_BUFFERED_DATUMS", "700")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("namespace = \"File\""), "{text}");
    assert!(text.contains("flush_interval = \"5s\""), "flag beats env: {text}");
    assert!(text.contains("max_buffered_datums = 700"), "env beats file: {text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_invalid_value_exits_2_naming_the_key() {
    let out = sidecar().args(["--print-config"]).env("CW_SIDECAR_MAX_PUT_REQUESTS_PER_SECOND", "0").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("`max_put_requests_per_second`") && err.contains("from 1 to 10000"), "{err}");
}

#[test]
fn without_a_region_it_refuses_to_start_rather_than_fall_back_to_dry_run() {
    let out = sidecar()
        .args(["--listen", "127.0.0.1:0"])
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing printed as if dry-run");
    assert!(String::from_utf8(out.stderr).unwrap().contains("--dry-run"));
}

#[test]
fn without_a_region_the_sdks_imds_attempts_print_no_struct_dump_only_our_error() {
    // A closed port as the instance metadata endpoint: the region chain tries it and fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = sidecar()
        .args(["--listen", "127.0.0.1:0"])
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://{closed}"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no AWS region configured"), "{err}");
    assert!(!err.contains("aws_config::imds") && !err.contains("FailedToLoadToken"), "{err}");
}

#[tokio::test]
async fn sigterm_publishes_everything_and_exits_0() {
    let fake = FakeCloudWatch::start().await;
    let bin = Sidecar::start(&fake, &["--namespace", "Bin", "--self-metrics-namespace", ""]).await;
    let healthcheck = sidecar().args(["--listen", bin.addr(), "healthcheck"]).output().unwrap();
    assert!(healthcheck.status.success(), "healthcheck against a live sidecar");
    let records: Vec<_> =
        (0..20).map(|i| json!({"name": "Term", "value": i, "dimensions": {"I": format!("{i}")}})).collect();
    let r = bin.post_json(&json!(records)).await.unwrap();
    assert_eq!(r.status(), 202);
    let addr = bin.addr().to_string();
    let status = bin.terminate(Duration::from_secs(15)).await;
    assert!(status.success());
    assert_eq!(fake.datums("Bin").len(), 20);
    let after = sidecar().args(["--listen", &addr, "healthcheck"]).output().unwrap();
    assert!(!after.status.success(), "healthcheck fails when nothing listens");
}

#[tokio::test]
async fn sigterm_while_starting_is_a_shutdown_not_a_kill() {
    // The handlers are installed before the sidecar builds anything: a SIGTERM sent as soon
    // as it logs its first line (the dry-run notice, logged just after) is handled, the
    // sidecar starts, stops at once and exits 0. Before, it was killed by the signal until it
    // awaited its shutdown, after /readyz already answered.
    use std::os::unix::process::ExitStatusExt;
    use tokio::io::AsyncBufReadExt;
    for _ in 0..3 {
        let mut child = tokio::process::Command::from(sidecar())
            .args(["--dry-run", "--listen", "127.0.0.1:0", "--namespace", "Start", "--self-metrics-namespace", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap();
        assert!(first.is_some_and(|l| l.contains("dry run")), "the first log line is the dry-run notice");
        // SAFETY: kill(2) on the pid of the child this test started.
        assert_eq!(unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) }, 0);
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.unwrap().unwrap();
        assert_eq!(status.signal(), None, "killed by SIGTERM, unhandled");
        assert!(status.success(), "{status}");
    }
}
