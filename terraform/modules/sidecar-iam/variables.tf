variable "name" {
  description = "Name of the IAM policy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,128}$", var.name))
    error_message = "name must be 1-128 characters of letters, digits and +=,.@_- (IAM policy name rules)."
  }
}

variable "path" {
  description = "Path of the IAM policy."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]{0,510}/)?$", var.path))
    error_message = "path must begin and end with / (for example / or /sidecars/)."
  }
}

variable "description" {
  description = "Description of the IAM policy."
  type        = string
  default     = "Lets the cw-sidecar publish metrics (cloudwatch:PutMetricData) to its namespaces only."
}

variable "namespaces" {
  description = "CloudWatch namespaces the sidecar may publish to: the services' namespaces and the sidecar's own (CWSidecar by default). PutMetricData to any other namespace is denied."
  type        = list(string)

  validation {
    condition     = length(var.namespaces) > 0
    error_message = "namespaces must name at least one namespace."
  }

  validation {
    condition = alltrue([
      for ns in var.namespaces : length(trimspace(ns)) > 0 && length(ns) <= 255 && can(regex("^[A-Za-z0-9.\\-_/#:]+$", ns))
    ])
    error_message = "Each namespace must be 1-255 characters of letters, digits and . - _ / # : (CloudWatch namespace rules)."
  }

  validation {
    condition     = alltrue([for ns in var.namespaces : !startswith(ns, "AWS/")])
    error_message = "Namespaces starting with AWS/ are reserved for AWS services; PutMetricData rejects them."
  }
}

variable "role_names" {
  description = "IAM roles to attach the policy to, as label => role name (for example { ecs_task = aws_iam_role.task.name }): an ECS task role, an IRSA role for EKS, or an EC2 instance role. The labels are static keys, so role names may be unknown until apply."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for r in values(var.role_names) : can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", r))])
    error_message = "role_names must be IAM role names (not ARNs): 1-64 characters of letters, digits and +=,.@_-."
  }
}

variable "tags" {
  description = "Tags for the IAM policy."
  type        = map(string)
  default     = {}
}
