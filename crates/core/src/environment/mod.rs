//! Where the sidecar runs, as attributes (`ecs.task_family`, `cloud.availability_zone`, ...)
//! that `[environment] dimensions` maps onto dimensions. The detectors' I/O is the sidecar's;
//! here are the attribute names, which detector offers each, the parsing of what the
//! metadata endpoints answer (the ECS task document, the EC2 identity document, an ARN) and
//! the mapping onto dimensions.

use std::collections::BTreeMap;

pub mod cgroup;
pub mod ec2;
pub mod ecs;

/// The detectors `[environment] detect` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    /// The ECS task metadata endpoint (v4, else v3).
    Ecs,
    /// The Kubernetes downward API's environment variables (EKS or any cluster).
    Eks,
    /// The EC2 instance metadata service, IMDSv2.
    Ec2,
}

impl Detector {
    pub const ALL: &'static [Detector] = &[Detector::Ecs, Detector::Eks, Detector::Ec2];

    /// Its name in `detect` and in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Ecs => "ecs",
            Detector::Eks => "eks",
            Detector::Ec2 => "ec2",
        }
    }

    pub fn parse(name: &str) -> Option<Detector> {
        Detector::ALL.iter().copied().find(|d| d.name() == name)
    }
}

/// Every attribute offered, with the detectors that can give it.
pub const ATTRIBUTES: &[(&str, &[Detector])] = &[
    ("ecs.cluster", &[Detector::Ecs]),
    ("ecs.task_arn", &[Detector::Ecs]),
    ("ecs.task_id", &[Detector::Ecs]),
    ("ecs.task_family", &[Detector::Ecs]),
    ("ecs.task_revision", &[Detector::Ecs]),
    ("ecs.launch_type", &[Detector::Ecs]),
    ("ecs.service_name", &[Detector::Ecs]),
    ("cloud.region", &[Detector::Ecs, Detector::Ec2]),
    ("cloud.account_id", &[Detector::Ecs, Detector::Ec2]),
    ("cloud.availability_zone", &[Detector::Ecs, Detector::Ec2]),
    ("ec2.instance_id", &[Detector::Ec2]),
    ("ec2.instance_type", &[Detector::Ec2]),
    ("ec2.ami_id", &[Detector::Ec2]),
    ("k8s.pod_name", &[Detector::Eks]),
    ("k8s.namespace", &[Detector::Eks]),
    ("k8s.node_name", &[Detector::Eks]),
];

/// What one detector found: attribute name to value.
pub type Attributes = BTreeMap<&'static str, String>;

/// The detectors that offer `attribute`, or why it is not one.
pub fn detectors_of(attribute: &str) -> Result<&'static [Detector], String> {
    ATTRIBUTES.iter().find(|(name, _)| *name == attribute).map(|(_, d)| *d).ok_or_else(|| {
        let names: Vec<&str> = ATTRIBUTES.iter().map(|(n, _)| *n).collect();
        format!("`{attribute}` is not an environment attribute; they are {}", names.join(", "))
    })
}

/// Checks a mapping against the detectors that run: each attribute exists and one of them
/// offers it.
pub fn check_mapping(dimensions: &BTreeMap<String, String>, detect: &[Detector]) -> Result<(), String> {
    for (dimension, attribute) in dimensions {
        let offered = detectors_of(attribute).map_err(|e| format!("dimension {dimension}: {e}"))?;
        if !offered.iter().any(|d| detect.contains(d)) {
            let names: Vec<&str> = offered.iter().map(|d| d.name()).collect();
            return Err(format!(
                "dimension {dimension} maps `{attribute}`, which only {} detects: add it to environment.detect",
                names.join(" or ")
            ));
        }
    }
    Ok(())
}

/// The attributes of every detector that succeeded, in the order of `detect`: where two
/// offer the same attribute (`cloud.region` from ECS and EC2), the first one named wins.
pub fn merge<'a>(found: impl IntoIterator<Item = &'a Attributes>) -> Attributes {
    let mut out = Attributes::new();
    for attributes in found {
        for (name, value) in attributes {
            out.entry(*name).or_insert_with(|| value.clone());
        }
    }
    out
}

/// The dimensions the mapping makes of `attributes`, and the (dimension, attribute) pairs it
/// found no value for. Nothing that is not mapped is added.
pub fn dimensions(
    mapping: &BTreeMap<String, String>,
    attributes: &Attributes,
) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for (dimension, attribute) in mapping {
        match attributes.get(attribute.as_str()).filter(|v| !v.is_empty()) {
            Some(value) => {
                out.insert(dimension.clone(), value.clone());
            }
            None => missing.push((dimension.clone(), attribute.clone())),
        }
    }
    (out, missing)
}

/// The Kubernetes attributes from the downward API's variables: `lookup` is the process
/// environment; `names` the variables of pod name, namespace and node name.
pub fn k8s_attributes(names: [&str; 3], lookup: impl Fn(&str) -> Option<String>) -> Result<Attributes, String> {
    let keys = ["k8s.pod_name", "k8s.namespace", "k8s.node_name"];
    let mut out = Attributes::new();
    for (key, var) in keys.into_iter().zip(names) {
        if let Some(value) = lookup(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            out.insert(key, value);
        }
    }
    if out.is_empty() {
        return Err(format!("none of {} is set (the downward API's variables)", names.join(", ")));
    }
    Ok(out)
}

/// An ARN's parts: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty() && !arn.resource.is_empty()).then_some(arn)
    }

    /// The resource's last path segment: the id in `task/cluster/ID`, the name in `cluster/NAME`.
    pub fn last_segment(&self) -> &'a str {
        self.resource.rsplit('/').next().unwrap_or(self.resource)
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
