use super::*;

#[test]
fn the_environment_is_off_by_default_and_read_from_the_file_as_the_issue_spells_it() {
    let c = load(&[], &[]).unwrap();
    assert!(c.environment.detect.is_empty() && c.environment.dimensions.is_empty());
    assert_eq!(c.environment.detect_timeout, Duration::from_secs(2));
    let dir = TempDir::new("environment-file");
    let path = dir.file(
        "c.toml",
        "[environment]\ndetect = [\"ecs\", \"ec2\"]\ndimensions = { TaskFamily = \"ecs.task_family\", AvailabilityZone = \"cloud.availability_zone\" }\n",
    );
    let c = load(&["--config", arg(&path)], &[]).unwrap();
    assert_eq!(c.environment.detect, ["ecs", "ec2"]);
    assert_eq!(c.environment.dimensions["TaskFamily"], "ecs.task_family");
    let c = load(
        &[],
        &[("CW_SIDECAR_ENVIRONMENT__DETECT", "eks"), ("CW_SIDECAR_ENVIRONMENT__DIMENSIONS", "Pod=k8s.pod_name")],
    )
    .unwrap();
    assert_eq!(c.environment.dimensions["Pod"], "k8s.pod_name");
}

#[test]
fn a_mapping_must_name_a_known_attribute_of_a_detector_that_runs_and_fit_beside_the_defaults() {
    let e = load(&["--environment-detect", "gke"], &[]).unwrap_err().to_string();
    assert!(e.contains("`environment.detect`") && e.contains("not a detector"), "{e}");
    let e = load(&["--environment-dimensions", "X=ecs.colour"], &[]).unwrap_err().to_string();
    assert!(e.contains("`environment.dimensions`") && e.contains("not an environment attribute"), "{e}");
    let e = load(&["--environment-detect", "ec2", "--environment-dimensions", "F=ecs.task_family"], &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("only ecs detects"), "{e}");
    let e = load(
        &[
            "--environment-detect",
            "ecs",
            "--environment-dimensions",
            "Env=ecs.cluster",
            "--default-dimensions",
            "Env=prod",
        ],
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Env is a default dimension too"), "{e}");
    let e = load(&["--environment-detect-timeout", "10ms"], &[]).unwrap_err().to_string();
    assert!(e.contains("between 100ms and 60s"), "{e}");
}
