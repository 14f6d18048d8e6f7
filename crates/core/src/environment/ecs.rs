//! The ECS task metadata document (`${ECS_CONTAINER_METADATA_URI_V4}/task`, or v3's
//! `${ECS_CONTAINER_METADATA_URI}/task`, which has the same task fields) as attributes.

use serde::Deserialize;

use super::{Arn, Attributes};

/// Largest task document read: a task of ten containers with their networks is a few KiB.
pub const MAX_TASK_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The task fields we read; the document has many more (containers, limits, pull times).
#[derive(Deserialize)]
struct Task {
    #[serde(rename = "Cluster")]
    cluster: Option<String>,
    #[serde(rename = "TaskARN")]
    task_arn: String,
    #[serde(rename = "Family")]
    family: Option<String>,
    #[serde(rename = "Revision")]
    revision: Option<String>,
    /// Fargate platform version 1.4 or later only (and newer EC2 agents).
    #[serde(rename = "AvailabilityZone")]
    availability_zone: Option<String>,
    /// Agents from 1.45.0 on.
    #[serde(rename = "LaunchType")]
    launch_type: Option<String>,
    /// Agents from 1.63.1 on, for a task of a service.
    #[serde(rename = "ServiceName")]
    service_name: Option<String>,
}

/// The attributes of a task document; an error says what is wrong with it.
pub fn task_attributes(document: &[u8]) -> Result<Attributes, String> {
    let task: Task = serde_json::from_slice(document).map_err(|e| format!("the task document is not one: {e}"))?;
    let arn = Arn::parse(&task.task_arn).filter(|a| a.service == "ecs" && a.resource.starts_with("task/"));
    let Some(arn) = arn else {
        return Err(format!("TaskARN {:?} is not the ARN of an ECS task", task.task_arn));
    };
    let mut out = Attributes::new();
    let mut put = |name: &'static str, value: Option<&str>| {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            out.insert(name, v.to_string());
        }
    };
    // The cluster is an ARN on Fargate and a short name on EC2: the short name either way.
    let cluster = task.cluster.as_deref().map(|c| Arn::parse(c).map_or(c, |a| a.last_segment()));
    put("ecs.cluster", cluster);
    put("ecs.task_arn", Some(&task.task_arn));
    put("ecs.task_id", Some(arn.last_segment()));
    put("ecs.task_family", task.family.as_deref());
    put("ecs.task_revision", task.revision.as_deref());
    put("ecs.launch_type", task.launch_type.as_deref());
    put("ecs.service_name", task.service_name.as_deref());
    put("cloud.region", Some(arn.region));
    put("cloud.account_id", Some(arn.account));
    put("cloud.availability_zone", task.availability_zone.as_deref());
    Ok(out)
}
