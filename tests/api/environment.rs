//! `[environment]`: the detectors against fakes that serve the real formats (the ECS task
//! documents of EC2 and Fargate, the IMDSv2 token flow), and the dimensions they add to
//! every record and to the self metrics, or not when a detector fails.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cw_core::reasons::DetectOutcome;
use cw_sidecar::clock::SystemClock;
use cw_sidecar::config::EnvironmentConfig;
use cw_sidecar::environment::detect;
use serde_json::json;

use crate::fake_metadata::{self, ECS_EC2_TASK, ECS_FARGATE_TASK, Imds};
use crate::helpers::{TestApp, mid_window_ms};

fn environment(detect: &[&str], dimensions: &[(&str, &str)]) -> EnvironmentConfig {
    EnvironmentConfig {
        detect: detect.iter().map(|s| s.to_string()).collect(),
        dimensions: dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..EnvironmentConfig::default()
    }
}

fn vars(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn ecs_v4_on_ec2_gives_the_mapped_attributes_and_only_those() {
    let base = fake_metadata::ecs(ECS_EC2_TASK).await;
    let env = vars(&[("ECS_CONTAINER_METADATA_URI_V4", base)]);
    let config = environment(
        &["ecs"],
        &[("TaskFamily", "ecs.task_family"), ("Cluster", "ecs.cluster"), ("Service", "ecs.service_name")],
    );
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert_eq!(found.dimensions, dims(&[("TaskFamily", "curltest"), ("Cluster", "default"), ("Service", "MyService")]));
    assert!(found.missing.is_empty());
    assert_eq!(found.outcomes[0].outcome, DetectOutcome::Detected);
}

#[tokio::test]
async fn fargate_has_a_zone_and_an_arn_cluster_and_a_missing_service_is_named() {
    let base = fake_metadata::ecs(ECS_FARGATE_TASK).await;
    let env = vars(&[("ECS_CONTAINER_METADATA_URI_V4", base)]);
    let config = environment(
        &["ecs"],
        &[("Az", "cloud.availability_zone"), ("Cluster", "ecs.cluster"), ("Service", "ecs.service_name")],
    );
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert_eq!(found.dimensions, dims(&[("Az", "us-west-2a"), ("Cluster", "default")]));
    assert_eq!(found.missing, vec![("Service".to_string(), "ecs.service_name".to_string())]);
    assert!(found.incomplete().unwrap().contains("no value for ecs.service_name"));
}

#[tokio::test]
async fn ecs_falls_back_to_v3_when_v4_is_not_set() {
    let base = fake_metadata::ecs(ECS_EC2_TASK).await;
    let env = vars(&[("ECS_CONTAINER_METADATA_URI", base)]);
    let found = detect(&environment(&["ecs"], &[("Rev", "ecs.task_revision")]), &|k| env.get(k).cloned()).await;
    assert_eq!(found.dimensions, dims(&[("Rev", "26")]));
}

#[tokio::test]
async fn outside_ecs_the_detector_fails_saying_so() {
    let found = detect(&environment(&["ecs"], &[("Rev", "ecs.task_revision")]), &|_| None).await;
    assert_eq!(found.outcomes[0].outcome, DetectOutcome::Failed);
    assert!(found.outcomes[0].error.as_deref().unwrap().contains("not in an ECS task"));
    assert!(found.dimensions.is_empty());
}

#[tokio::test]
async fn imdsv2_asks_a_token_with_its_ttl_then_gets_the_identity_with_it() {
    let (base, seen) = fake_metadata::imds(Imds::V2).await;
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", base)]);
    let config = environment(
        &["ec2"],
        &[("InstanceId", "ec2.instance_id"), ("InstanceType", "ec2.instance_type"), ("Az", "cloud.availability_zone")],
    );
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert_eq!(
        found.dimensions,
        dims(&[("InstanceId", "i-1234567890abcdef0"), ("InstanceType", "t2.micro"), ("Az", "us-west-2b")])
    );
    assert_eq!(seen.token_puts.load(Ordering::SeqCst), 1);
    assert_eq!(seen.puts_without_ttl.load(Ordering::SeqCst), 0);
    assert_eq!(seen.refused_gets.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_hanging_token_put_fails_the_detector_within_the_timeout_naming_the_hop_limit() {
    let (base, seen) = fake_metadata::imds(Imds::HangingPut).await;
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", base)]);
    let started = Instant::now();
    let found = detect(&environment(&["ec2"], &[("InstanceId", "ec2.instance_id")]), &|k| env.get(k).cloned()).await;
    assert!(started.elapsed() < Duration::from_millis(2500), "took {:?}", started.elapsed());
    assert_ne!(found.outcomes[0].outcome, DetectOutcome::Detected);
    let error = found.outcomes[0].error.clone().unwrap();
    assert!(error.contains("hop limit"), "{error}");
    // IMDSv1 is not tried unless asked for.
    assert_eq!(seen.refused_gets.load(Ordering::SeqCst), 0);
    assert!(found.dimensions.is_empty());
}

#[tokio::test]
async fn imdsv1_is_used_only_with_the_fallback_and_a_401_is_reported() {
    let (base, _) = fake_metadata::imds(Imds::HangingPutV1Allowed).await;
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", base)]);
    let mut config = environment(&["ec2"], &[("Ami", "ec2.ami_id")]);
    config.imds_v1_fallback = true;
    config.detect_timeout = Duration::from_secs(5);
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert_eq!(found.dimensions, dims(&[("Ami", "ami-5fb8c835")]));

    // An IMDS that requires the token answers the tokenless GET with 401.
    let (base, seen) = fake_metadata::imds(Imds::HangingPut).await;
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", base)]);
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert_eq!(found.outcomes[0].outcome, DetectOutcome::Failed);
    assert!(found.outcomes[0].error.as_deref().unwrap().contains("401"), "{:?}", found.outcomes);
    assert_eq!(seen.refused_gets.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_whole_detection_is_bounded_by_detect_timeout() {
    let (base, _) = fake_metadata::imds(Imds::HangingPut).await;
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", base)]);
    let mut config = environment(&["ec2"], &[("Ami", "ec2.ami_id")]);
    config.imds_v1_fallback = true;
    config.detect_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(found.outcomes[0].outcome, DetectOutcome::TimedOut, "{:?}", found.outcomes);
}

#[tokio::test]
async fn kubernetes_reads_the_downward_apis_variables_by_their_configured_names() {
    let env = vars(&[("MY_POD", "web-7d9c".into()), ("POD_NAMESPACE", "shop".into())]);
    let mut config = environment(&["eks"], &[("Pod", "k8s.pod_name"), ("Namespace", "k8s.namespace")]);
    config.pod_name_env = "MY_POD".into();
    let found = detect(&config, &|k| env.get(k).cloned()).await;
    assert_eq!(found.dimensions, dims(&[("Pod", "web-7d9c"), ("Namespace", "shop")]));
}

#[tokio::test]
async fn records_and_self_metrics_get_the_environments_dimensions_and_metrics_count_the_detectors() {
    let base = fake_metadata::ecs(ECS_FARGATE_TASK).await;
    let env = vars(&[("ECS_CONTAINER_METADATA_URI_V4", base)]);
    let tune = |c: &mut cw_sidecar::config::Config| {
        c.self_metrics_namespace = "CWSidecar".into();
        c.self_metrics = vec!["Heartbeat".into()];
        c.default_dimensions = dims(&[("Env", "test")]);
        // ec2 fails here (nothing listens on the IMDS endpoint) and costs only its dimensions.
        c.environment =
            environment(&["ecs", "ec2"], &[("TaskFamily", "ecs.task_family"), ("Instance", "ec2.instance_id")]);
    };
    let mut env = env;
    env.insert("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), "http://127.0.0.1:9".into());
    let app = TestApp::try_spawn(tune, SystemClock::shared(), &|k| env.get(k).cloned()).await.unwrap();
    let (status, _) = app
        .post_json(
            json!([{"name": "Latency", "value": 5, "timestamp": mid_window_ms(), "dimensions": {"Route": "/a"}}]),
        )
        .await;
    assert_eq!(status, 202);
    app.flush().await;
    let datums = app.fake.datums("Test");
    assert_eq!(datums.len(), 1);
    assert_eq!(datums[0].dimensions, dims(&[("Env", "test"), ("Route", "/a"), ("TaskFamily", "curltest")]));
    let heartbeat = app.fake.datums("CWSidecar");
    assert!(!heartbeat.is_empty());
    assert!(heartbeat.iter().all(|d| d.dimensions == dims(&[("Env", "test"), ("TaskFamily", "curltest")])));
    assert_eq!(
        app.metric("cw_sidecar_environment_detections_total", r#"detector="ecs",outcome="detected""#).await,
        1.0
    );
    assert_eq!(app.metric("cw_sidecar_environment_detections_total", r#"detector="ec2",outcome="failed""#).await, 1.0);
    assert_eq!(app.metric("cw_sidecar_environment_dimensions", "").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_environment_dimensions_missing_total", "").await, 1.0);
    app.shutdown().await;
}

#[tokio::test]
async fn fail_on_missing_refuses_to_start_naming_the_detector() {
    let tune = |c: &mut cw_sidecar::config::Config| {
        c.environment = environment(&["ecs"], &[("TaskFamily", "ecs.task_family")]);
        c.environment.fail_on_missing = true;
    };
    let Err(error) = TestApp::try_spawn(tune, SystemClock::shared(), &|_| None).await else {
        panic!("started without its environment");
    };
    let message = error.to_string();
    assert!(message.contains("detector ecs") && message.contains("fail_on_missing"), "{message}");
}
