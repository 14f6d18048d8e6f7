//! The EC2 instance identity document (`/latest/dynamic/instance-identity/document` of
//! IMDS) as attributes: one GET gives the instance, its type, its AMI, its zone, region and
//! account.

use serde::Deserialize;

use super::Attributes;

/// IMDSv2's token, asked for with `PUT /latest/api/token`.
pub const TOKEN_PATH: &str = "/latest/api/token";
/// The header that asks for the token's lifetime in seconds.
pub const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// The header that carries the token on every GET.
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// The instance identity document.
pub const IDENTITY_PATH: &str = "/latest/dynamic/instance-identity/document";
/// Largest answer read from IMDS (the document is under 1 KiB).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    instance_id: String,
    instance_type: Option<String>,
    image_id: Option<String>,
    availability_zone: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
}

/// The attributes of an identity document; an error says what is wrong with it.
pub fn identity_attributes(document: &[u8]) -> Result<Attributes, String> {
    let id: Identity =
        serde_json::from_slice(document).map_err(|e| format!("the instance identity document is not one: {e}"))?;
    let mut out = Attributes::new();
    let mut put = |name: &'static str, value: Option<String>| {
        if let Some(v) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            out.insert(name, v);
        }
    };
    put("ec2.instance_id", Some(id.instance_id));
    put("ec2.instance_type", id.instance_type);
    put("ec2.ami_id", id.image_id);
    put("cloud.availability_zone", id.availability_zone);
    put("cloud.region", id.region);
    put("cloud.account_id", id.account_id);
    if !out.contains_key("ec2.instance_id") {
        return Err("the instance identity document has an empty instanceId".into());
    }
    Ok(out)
}

/// The IMDS endpoint: `AWS_EC2_METADATA_SERVICE_ENDPOINT` as the AWS SDKs read it (an
/// `http://host:port` URL, trailing slash trimmed), else the link-local address.
pub fn endpoint(configured: Option<&str>) -> String {
    match configured.map(str::trim).filter(|s| !s.is_empty()) {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => "http://169.254.169.254".to_string(),
    }
}
