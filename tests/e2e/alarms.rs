//! The alarm chain on LocalStack: `terraform apply` of `terraform/examples/complete` (SNS
//! topics with an SQS subscription, the contract's `Http5xx` Average alarm at a 10 s period on
//! high-resolution data, the sidecar's own alarms); traffic through the sidecar with a 5xx rate
//! above the threshold; the alarm goes to ALARM and the notification reaches the queue;
//! traffic back under the threshold and it returns to OK. Along the way: the alarmed series
//! exist with exactly the alarm's dimensions, and the sidecar's self metrics reach
//! CloudWatch with its Heartbeat alarm evaluating on them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_cloudwatch::types::DimensionFilter;
use serde_json::Value;

use crate::support::{Sidecar, alarm_fires_and_notifies, alarm_state, cloudwatch, eventually, localstack, unique};

/// A copy of `terraform/` applied to LocalStack; destroyed and removed on drop.
pub struct Stack {
    dir: PathBuf,
    example: PathBuf,
    vars: Vec<String>,
}

fn terraform(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform is not installed: see terraform/README.md for how to install it")
}

fn must(output: std::process::Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{what} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

impl Stack {
    pub fn apply(vars: Vec<String>) -> Stack {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("cw-sidecar-e2e-{}", unique()));
        let copy = Command::new(root.join("scripts/localstack.sh")).arg("terraform-copy").arg(&dir).output().unwrap();
        let example = PathBuf::from(must(copy, "scripts/localstack.sh terraform-copy").trim());
        let mut init = vec!["init".to_string(), "-input=false".into(), "-no-color".into()];
        if let Ok(plugins) = std::env::var("TF_PLUGIN_DIR") {
            init.push(format!("-plugin-dir={plugins}"));
        }
        must(terraform(&example, &init.iter().map(String::as_str).collect::<Vec<_>>()), "terraform init");
        let stack = Stack { dir, example, vars };
        let mut apply = vec!["apply", "-auto-approve", "-no-color", "-input=false"];
        apply.extend(stack.vars.iter().map(String::as_str));
        must(terraform(&stack.example, &apply), "terraform apply of examples/complete");
        stack
    }

    pub fn outputs(&self) -> Value {
        serde_json::from_str(&must(terraform(&self.example, &["output", "-json", "-no-color"]), "terraform output"))
            .unwrap()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let mut destroy = vec!["destroy", "-auto-approve", "-no-color", "-input=false"];
        destroy.extend(self.vars.iter().map(String::as_str));
        let out = terraform(&self.example, &destroy);
        if !out.status.success() {
            eprintln!("terraform destroy failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
#[ignore = "needs LocalStack (scripts/localstack.sh start); scripts/test.sh runs it"]
async fn the_5xx_alarm_fires_notifies_and_recovers_and_the_sidecar_alarms_evaluate() {
    let endpoint = localstack().await;
    let run = unique();
    let namespace = format!("E2E-Alarms-{run}");
    let stack = Stack::apply(
        [
            format!("name=e2e-{run}"),
            format!(r#"services=[{{name="checkout",namespace="{namespace}"}}]"#),
            r#"contract_alarm_overrides={http_5xx_rate={period=10,evaluation_periods=3,datapoints_to_alarm=1,high_resolution=true}}"#.into(),
            format!(r#"sidecar_dimensions={{Run="{run}"}}"#),
            "sidecar_flush_interval_seconds=1".into(),
            r#"sidecar_alarm_overrides={heartbeat={period=60,evaluation_periods=1,datapoints_to_alarm=1}}"#.into(),
        ]
        .into_iter()
        .flat_map(|v| ["-var".to_string(), v])
        .collect(),
    );
    let outputs = stack.outputs();
    let alarm = outputs["service_alarm_names"]["value"]["checkout"]["http_5xx_rate"].as_str().unwrap().to_string();
    let heartbeat = outputs["sidecar_alarm_names"]["value"]["heartbeat"].as_str().unwrap().to_string();
    let queue_url = outputs["alert_queue_url"]["value"].as_str().unwrap().to_string();
    let cw = cloudwatch(&endpoint);
    // As the provider read it back from CloudWatch after creating it.
    let declared = &outputs["alarm_definitions"]["value"]["checkout.http_5xx_rate"];
    assert_eq!((declared["metric_name"].as_str(), declared["period"].as_i64()), (Some("Http5xx"), Some(10)));
    assert_eq!(declared["statistic"], "Average");

    let sidecar = Sidecar::start(
        &endpoint,
        &["--default-dimensions", &format!("Run={run}"), "--flush-interval", "1s", "--window-grace", "1s"],
    )
    .await;
    let traffic = |error_rate: &str, duration: &str| {
        let url = sidecar.url.clone();
        let args: Vec<String> = [
            "traffic",
            "--target",
            &url,
            "--metrics-namespace",
            &namespace,
            "--service",
            "checkout",
            "--rps",
            "40",
            "--error-rate",
            error_rate,
            "--burst-for",
            "0s",
            "--storage-resolution",
            "1",
            "--duration",
            duration,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        tokio::process::Command::new(crate::support::BIN)
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };

    // Phase 1: 30% of requests fail, far above the 1% threshold.
    let mut failing = traffic("0.3", "150s");
    let notification = alarm_fires_and_notifies(&endpoint, &queue_url, &alarm, Duration::from_secs(150)).await;
    assert_eq!(notification["Trigger"]["MetricName"], "Http5xx");
    failing.kill().await.unwrap();

    // Phase 2: no errors; the alarm returns to OK.
    let mut healthy = traffic("0", "150s");
    eventually(Duration::from_secs(150), "the Http5xx alarm to return to OK", || async {
        (alarm_state(&endpoint, &alarm).await.as_deref() == Some("OK")).then_some(())
    })
    .await;

    // Every alarmed series exists with exactly the alarm's dimensions (LocalStack's own
    // matching is loose; real CloudWatch's is exact).
    let listed = cw.list_metrics().namespace(&namespace).metric_name("Http5xx").send().await.unwrap();
    let want: Vec<(String, String)> = declared["dimensions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(want, vec![("Run".to_string(), run.clone()), ("Service".to_string(), "checkout".to_string())]);
    assert!(!listed.metrics().is_empty());
    for metric in listed.metrics() {
        let mut got: Vec<_> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap().to_string(), d.value().unwrap().to_string()))
            .collect();
        got.sort();
        assert_eq!(got, want, "series published with other dimensions than the alarm's");
    }

    // The self metrics arrive under CWSidecar with exactly the default dimensions, and the
    // Heartbeat alarm (missing data breaching) evaluates on them.
    eventually(Duration::from_secs(180), "the Heartbeat alarm to see heartbeats (OK)", || async {
        (alarm_state(&endpoint, &heartbeat).await.as_deref() == Some("OK")).then_some(())
    })
    .await;
    let self_metrics = cw
        .list_metrics()
        .namespace("CWSidecar")
        .dimensions(DimensionFilter::builder().name("Run").value(&run).build())
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = self_metrics.metrics().iter().filter_map(|m| m.metric_name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        [
            "ActiveSeries",
            "BufferedDatums",
            "DatumsDropped",
            "DatumsPublished",
            "Heartbeat",
            "PublishFailures",
            "RecordsAccepted",
            "RecordsRejected",
            "ThrottledRequests",
            "UdpDropped"
        ]
    );
    for m in self_metrics.metrics() {
        assert_eq!(m.dimensions().len(), 1, "self metrics carry exactly the default dimensions");
    }
    healthy.kill().await.unwrap();
    sidecar.stop();
    drop(stack);
}
