//! The binary as a process of its own under a chosen open-files limit (`ulimit -n`), with
//! every log line kept for the test to read: for what only shows in the log or needs a
//! process limit (descriptors, startup warnings, errors logged every second).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::BIN;

/// A port free a moment ago, for a flag that needs an address before the process starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary, killed (by its own pid) when dropped.
pub struct Limited {
    child: tokio::process::Child,
    log: Arc<Mutex<Vec<String>>>,
    started: std::time::Instant,
}

impl Limited {
    /// Starts the binary under `ulimit -n <nofile>` with `args`: publishing to `fake`, or in
    /// dry-run without one; returns once it logged that it is ready.
    pub async fn start(nofile: u64, fake: Option<&FakeCloudWatch>, args: &[&str]) -> Limited {
        let mut command = tokio::process::Command::new("sh");
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CW_SIDECAR_") || k.starts_with("AWS_")) {
            command.env_remove(key);
        }
        let script = format!("ulimit -n {nofile} && exec \"$0\" \"$@\"");
        command.args(["-c", &script, BIN, "--log-format", "text"]);
        match fake {
            Some(fake) => command
                .env("AWS_ENDPOINT_URL", fake.url())
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_EC2_METADATA_DISABLED", "true"),
            None => command.arg("--dry-run"),
        };
        let mut child = command
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let since = std::time::Instant::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready, mut started) = tokio::sync::mpsc::unbounded_channel();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("cw-sidecar ready") {
                    let _ = ready.send(());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let became = tokio::time::timeout(Duration::from_secs(30), started.recv()).await;
        assert!(matches!(became, Ok(Some(()))), "the sidecar did not become ready: {:?}", log.lock().unwrap());
        Limited { child, log, started: since }
    }

    /// When it was started.
    pub fn started(&self) -> std::time::Instant {
        self.started
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the sidecar is still running")
    }

    /// The log lines so far that contain `text`.
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|l| l.contains(text)).cloned().collect()
    }

    /// SIGTERM, which must end it with success within 30 s.
    pub async fn stop(mut self) {
        let pid = libc::pid_t::try_from(self.pid()).unwrap();
        // SAFETY: kill(2) on the pid of the child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status}: {:?}", self.log.lock().unwrap());
    }
}
