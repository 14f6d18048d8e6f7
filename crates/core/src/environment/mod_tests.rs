use std::collections::BTreeMap;

use super::cgroup::{default_ceiling, effective_limit, limit_files, parse_limit, rss_from_statm};
use super::ec2::{endpoint, identity_attributes};
use super::ecs::task_attributes;
use super::*;

/// The v4 `/task` document of a task on EC2, as the ECS developer guide shows it (containers
/// shortened to one); the fixtures are shared with the fakes of `tests/api/environment.rs`.
pub const ECS_EC2_TASK: &str = include_str!("../../../../tests/fixtures/environment/ecs-task-ec2.json");

/// The v4 `/task` document of a Fargate task (platform 1.4): the cluster as an ARN.
pub const ECS_FARGATE_TASK: &str = include_str!("../../../../tests/fixtures/environment/ecs-task-fargate.json");

/// An instance identity document as IMDS serves it.
pub const EC2_IDENTITY: &str = include_str!("../../../../tests/fixtures/environment/ec2-identity.json");

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn an_ecs_task_on_ec2_gives_every_ecs_attribute() {
    let a = task_attributes(ECS_EC2_TASK.as_bytes()).unwrap();
    assert_eq!(a["ecs.cluster"], "default");
    assert_eq!(a["ecs.task_id"], "158d1c8083dd49d6b527399fd6414f5c");
    assert_eq!(a["ecs.task_family"], "curltest");
    assert_eq!(a["ecs.task_revision"], "26");
    assert_eq!(a["ecs.launch_type"], "EC2");
    assert_eq!(a["ecs.service_name"], "MyService");
    assert_eq!(a["cloud.region"], "us-west-2");
    assert_eq!(a["cloud.account_id"], "111122223333");
    assert_eq!(a["cloud.availability_zone"], "us-west-2d");
    assert!(a["ecs.task_arn"].ends_with("/158d1c8083dd49d6b527399fd6414f5c"));
}

#[test]
fn a_fargate_task_gives_the_clusters_short_name_and_no_service_when_there_is_none() {
    let a = task_attributes(ECS_FARGATE_TASK.as_bytes()).unwrap();
    assert_eq!(a["ecs.cluster"], "default");
    assert_eq!(a["ecs.launch_type"], "FARGATE");
    assert_eq!(a["ecs.task_id"], "e9028f8d5d8e4f258373e7b93ce9a3c3");
    assert!(!a.contains_key("ecs.service_name"));
}

#[test]
fn an_old_task_arn_without_the_cluster_still_gives_the_id() {
    let doc = r#"{"Cluster":"prod","TaskARN":"arn:aws:ecs:eu-west-1:123456789012:task/0b69d5c0-d655-4695-98cd-5d2d526d9d5a","Family":"app","Revision":"1"}"#;
    let a = task_attributes(doc.as_bytes()).unwrap();
    assert_eq!(a["ecs.task_id"], "0b69d5c0-d655-4695-98cd-5d2d526d9d5a");
    assert!(!a.contains_key("cloud.availability_zone"));
}

#[test]
fn a_document_that_is_not_a_task_is_an_error_that_says_so() {
    assert!(task_attributes(b"<html>").unwrap_err().contains("not one"));
    let err = task_attributes(br#"{"TaskARN":"arn:aws:s3:::bucket"}"#).unwrap_err();
    assert!(err.contains("not the ARN of an ECS task"), "{err}");
    assert!(task_attributes(br#"{"Cluster":"x"}"#).unwrap_err().contains("TaskARN"));
}

#[test]
fn arns_are_split_into_their_parts() {
    let arn = Arn::parse("arn:aws-cn:ecs:cn-north-1:123:cluster/a/b").unwrap();
    assert_eq!((arn.partition, arn.region, arn.account, arn.last_segment()), ("aws-cn", "cn-north-1", "123", "b"));
    assert_eq!(Arn::parse("arn:aws:ecs"), None);
    assert_eq!(Arn::parse("urn:aws:ecs:r:a:task/x"), None);
}

#[test]
fn the_identity_document_gives_the_instance_and_its_place() {
    let a = identity_attributes(EC2_IDENTITY.as_bytes()).unwrap();
    assert_eq!(a["ec2.instance_id"], "i-1234567890abcdef0");
    assert_eq!(a["ec2.instance_type"], "t2.micro");
    assert_eq!(a["ec2.ami_id"], "ami-5fb8c835");
    assert_eq!(a["cloud.availability_zone"], "us-west-2b");
    assert_eq!(a["cloud.region"], "us-west-2");
    assert_eq!(a["cloud.account_id"], "0123456789");
    assert!(identity_attributes(b"{}").is_err());
    assert!(identity_attributes(br#"{"instanceId":" "}"#).is_err());
}

#[test]
fn the_imds_endpoint_follows_the_sdks_variable() {
    assert_eq!(endpoint(None), "http://169.254.169.254");
    assert_eq!(endpoint(Some("http://127.0.0.1:1234/")), "http://127.0.0.1:1234");
    assert_eq!(endpoint(Some("")), "http://169.254.169.254");
}

#[test]
fn kubernetes_attributes_come_from_the_named_variables() {
    let env = map(&[("POD_NAME", "web-7d9c"), ("POD_NAMESPACE", "shop")]);
    let a = k8s_attributes(["POD_NAME", "POD_NAMESPACE", "NODE_NAME"], |k| env.get(k).cloned()).unwrap();
    assert_eq!(a["k8s.pod_name"], "web-7d9c");
    assert_eq!(a["k8s.namespace"], "shop");
    assert!(!a.contains_key("k8s.node_name"));
    let err = k8s_attributes(["A", "B", "C"], |_| None).unwrap_err();
    assert!(err.contains("A, B, C"), "{err}");
}

#[test]
fn only_mapped_attributes_become_dimensions_and_missing_ones_are_named() {
    let ecs = task_attributes(ECS_FARGATE_TASK.as_bytes()).unwrap();
    let ec2 = identity_attributes(EC2_IDENTITY.as_bytes()).unwrap();
    // ECS first: its zone wins over the instance's.
    let all = merge([&ecs, &ec2]);
    assert_eq!(all["cloud.availability_zone"], "us-west-2a");
    let mapping =
        map(&[("TaskFamily", "ecs.task_family"), ("Service", "ecs.service_name"), ("Az", "cloud.availability_zone")]);
    let (dims, missing) = dimensions(&mapping, &all);
    assert_eq!(dims, map(&[("TaskFamily", "curltest"), ("Az", "us-west-2a")]));
    assert_eq!(missing, vec![("Service".to_string(), "ecs.service_name".to_string())]);
}

#[test]
fn a_mapping_names_known_attributes_of_detectors_that_run() {
    let mapping = map(&[("TaskFamily", "ecs.task_family")]);
    assert!(check_mapping(&mapping, &[Detector::Ecs]).is_ok());
    let err = check_mapping(&mapping, &[Detector::Ec2]).unwrap_err();
    assert!(err.contains("only ecs detects"), "{err}");
    let err = check_mapping(&map(&[("X", "ecs.nope")]), &[Detector::Ecs]).unwrap_err();
    assert!(err.contains("`ecs.nope` is not an environment attribute"), "{err}");
    assert!(check_mapping(&map(&[("Az", "cloud.availability_zone")]), &[Detector::Ec2]).is_ok());
    assert_eq!(Detector::parse("eks"), Some(Detector::Eks));
    assert_eq!(Detector::parse("gke"), None);
}

#[test]
fn cgroup_v2_limit_files_are_the_cgroup_and_its_ancestors() {
    let files = limit_files("0::/kubepods/pod1/ctr\n");
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/sys/fs/cgroup/kubepods/pod1/ctr/memory.max",
            "/sys/fs/cgroup/kubepods/pod1/memory.max",
            "/sys/fs/cgroup/kubepods/memory.max",
            "/sys/fs/cgroup/memory.max"
        ]
    );
    assert!(files.iter().all(|f| f.v2));
    assert_eq!(limit_files("0::/\n").len(), 1);
}

#[test]
fn cgroup_v1_limit_files_come_from_the_memory_line_of_a_hybrid_host() {
    let text = "9:name=systemd:/\n4:memory,memsw:/process_api/abc\n1:cpu:/\n0::/\n";
    let files = limit_files(text);
    let v1: Vec<&str> = files.iter().filter(|f| !f.v2).map(|f| f.path.as_str()).collect();
    assert_eq!(
        v1,
        [
            "/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes"
        ]
    );
    assert_eq!(files.iter().filter(|f| f.v2).count(), 1);
    assert!(limit_files("garbage\n\n1:cpu:/x\n").is_empty());
}

#[test]
fn limits_say_none_for_max_and_v1s_huge_value() {
    assert_eq!(parse_limit("max\n", true), None);
    assert_eq!(parse_limit("536870912\n", true), Some(512 << 20));
    assert_eq!(parse_limit("9223372036854771712", false), None);
    assert_eq!(parse_limit("268435456", false), Some(256 << 20));
    assert_eq!(parse_limit("lots", true), None);
    assert_eq!(effective_limit([None, Some(4 << 30), Some(512 << 20)]), Some(512 << 20));
    assert_eq!(effective_limit([None, None]), None);
    assert_eq!(default_ceiling(Some(1000 << 20)), Some(800 << 20));
    assert_eq!(default_ceiling(None), None);
    assert_eq!(rss_from_statm("12345 678 90 1 0 100 0\n", 4096), Some(678 * 4096));
    assert_eq!(rss_from_statm("", 4096), None);
}
