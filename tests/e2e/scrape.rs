//! "Any database error" on a scraped counter, end to end on LocalStack: `terraform apply` of
//! `terraform/examples/complete` (its chat service's `db_errors_total` Sum > 0 alarm, SNS with
//! an SQS subscriber); a service instrumented with `prometheus-client` from PyPI
//! (`tests/clients/prometheus_service.py`, installed by `scripts/clients.sh`) that the sidecar
//! binary scrapes; the alarm is OK while the counter stands still, goes to ALARM once the
//! service counts database errors, and the notification arrives on the queue.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::alarms::Stack;
use crate::support::{Sidecar, alarm_fires_and_notifies, alarm_state, eventually, localstack, unique};

#[tokio::test]
#[ignore = "needs LocalStack (scripts/localstack.sh start) and prometheus-client from PyPI (scripts/clients.sh)"]
async fn a_scraped_database_error_fires_the_any_database_error_alarm_and_notifies() {
    let endpoint = localstack().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let python = dir.join(".venv/bin/python");
    assert!(python.exists(), "no {}: run scripts/clients.sh", python.display());
    let run = unique();
    let namespace = format!("E2E-Scrape-{run}");
    let stack = Stack::apply(
        [
            format!("name=e2e-scrape-{run}"),
            format!("instrumented_namespace={namespace}"),
            format!(r#"sidecar_dimensions={{Run="{run}"}}"#),
            "chat_db_errors_alarm={period=60,evaluation_periods=1,datapoints_to_alarm=1}".into(),
        ]
        .into_iter()
        .flat_map(|v| ["-var".to_string(), v])
        .collect(),
    );
    let outputs = stack.outputs();
    let alarm = outputs["db_errors_alarm_name"]["value"].as_str().unwrap().to_string();
    let queue_url = outputs["alert_queue_url"]["value"].as_str().unwrap().to_string();

    // The service, with its db_errors_total at zero.
    let mut service = tokio::process::Command::new(&python)
        .args(["prometheus_service.py", "1", "database_errors"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python runs");
    let mut stdin = service.stdin.take().unwrap();
    let mut lines = BufReader::new(service.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let target = format!("http://127.0.0.1:{}/metrics", first["port"]);

    let sidecar = Sidecar::start(
        &endpoint,
        &[
            "--default-dimensions",
            &format!("Run={run}"),
            "--flush-interval",
            "1s",
            "--window-grace",
            "1s",
            "--scrape-targets",
            &target,
            "--scrape-interval",
            "2s",
            "--scrape-namespace",
            &namespace,
            "--scrape-include",
            "db_errors_total,http_requests_total",
        ],
    )
    .await;
    // No error yet: the counter's zero increases are data, and the alarm is OK on them.
    eventually(Duration::from_secs(240), "the database error alarm to be OK on zero increases", || async {
        (alarm_state(&endpoint, &alarm).await.as_deref() == Some("OK")).then_some(())
    })
    .await;

    // The service starts counting database errors.
    stdin.write_all(b"errors\n").await.unwrap();
    stdin.flush().await.unwrap();
    let answer: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(answer["db_errors"], 3);
    let notification = alarm_fires_and_notifies(&endpoint, &queue_url, &alarm, Duration::from_secs(240)).await;
    assert_eq!(notification["Trigger"]["MetricName"], "db_errors_total");
    assert_eq!(notification["Trigger"]["Namespace"], namespace.as_str());

    // The sidecar saw the target up all along.
    let metrics = sidecar.http.get(format!("{}/metrics", sidecar.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("cw_sidecar_scrape_up{{target=\"{target}\"}} 1")), "{metrics}");
    let _ = stdin.write_all(b"quit\n").await;
    sidecar.stop();
    let _ = service.wait().await;
    drop(stack);
}
