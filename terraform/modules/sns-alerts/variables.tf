variable "name_prefix" {
  description = "Prefix of the topic names: a topic is named \"<name_prefix>-<severity>\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name_prefix))
    error_message = "name_prefix must be 1-200 characters of letters, digits, hyphens and underscores (SNS topic name rules)."
  }
}

variable "severities" {
  description = "Severities to create a topic for. Alarms pick their topic by severity."
  type        = list(string)
  default     = ["critical", "warning"]

  validation {
    condition     = length(var.severities) > 0 && length(distinct(var.severities)) == length(var.severities) && alltrue([for s in var.severities : can(regex("^[a-z0-9_-]{1,40}$", s))])
    error_message = "severities must be a non-empty list of distinct names of 1-40 lowercase letters, digits, hyphens or underscores."
  }
}

variable "kms_encryption" {
  description = <<-EOT
    Encrypt the topics with KMS. "create" makes a customer-managed key whose policy lets
    CloudWatch (and the other kms_publisher_service_principals) use it; "existing" uses
    kms_key_arn, whose policy must already grant cloudwatch.amazonaws.com kms:Decrypt and
    kms:GenerateDataKey*; "none" leaves the topics unencrypted. The AWS-managed aws/sns key
    cannot be used: CloudWatch alarms cannot publish to topics encrypted with it.
  EOT
  type        = string
  default     = "create"

  validation {
    condition     = contains(["create", "existing", "none"], var.kms_encryption)
    error_message = "kms_encryption must be one of create, existing, none."
  }
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key, used when kms_encryption = \"existing\"."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key or alias ARN (the alias alias/aws/sns does not work with CloudWatch alarms)."
  }

  validation {
    condition     = var.kms_encryption != "existing" || var.kms_key_arn != null
    error_message = "kms_key_arn is required when kms_encryption = \"existing\"."
  }

  validation {
    condition     = var.kms_key_arn == null ? true : !endswith(coalesce(var.kms_key_arn, "-"), "alias/aws/sns")
    error_message = "The AWS-managed key alias/aws/sns does not work with CloudWatch alarms: use a customer-managed key."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before a created KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

variable "kms_publisher_service_principals" {
  description = "AWS service principals allowed to use the created KMS key to publish to the topics."
  type        = list(string)
  default     = ["cloudwatch.amazonaws.com"]

  validation {
    condition     = alltrue([for p in var.kms_publisher_service_principals : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", p))])
    error_message = "kms_publisher_service_principals must be service principals such as cloudwatch.amazonaws.com."
  }
}

variable "subscriptions" {
  description = <<-EOT
    Subscriptions by key. `protocol` is email, email-json, https, http, sqs or lambda; `endpoint`
    is the address, URL, queue ARN or function ARN. `severities` limits the topics (default: all).
    For sqs the module writes the queue policy that lets the topics send to it (one policy per
    queue, covering every topic subscribed to it; it replaces any policy the queue had), unless
    `manage_queue_policy = false`; `queue_url` avoids looking the queue up by name. For lambda it
    adds the `aws_lambda_permission` for each topic.
  EOT
  type = map(object({
    protocol                        = string
    endpoint                        = string
    severities                      = optional(list(string))
    raw_message_delivery            = optional(bool, false)
    filter_policy                   = optional(string)
    filter_policy_scope             = optional(string)
    endpoint_auto_confirms          = optional(bool, false)
    confirmation_timeout_in_minutes = optional(number, 1)
    manage_queue_policy             = optional(bool, true)
    queue_url                       = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for k, s in var.subscriptions : can(regex("^[A-Za-z0-9_-]{1,60}$", k))])
    error_message = "Subscription keys must be 1-60 letters, digits, hyphens or underscores (they name Lambda permission statements)."
  }

  validation {
    condition     = alltrue([for s in values(var.subscriptions) : contains(["email", "email-json", "https", "http", "sqs", "lambda"], s.protocol)])
    error_message = "subscriptions[].protocol must be one of email, email-json, https, http, sqs, lambda."
  }

  validation {
    condition     = alltrue([for s in values(var.subscriptions) : length(trimspace(s.endpoint)) > 0])
    error_message = "subscriptions[].endpoint must not be empty."
  }

  validation {
    condition = alltrue([
      for s in values(var.subscriptions) : (
        s.protocol == "sqs" ? can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", s.endpoint)) :
        s.protocol == "lambda" ? can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:.+$", s.endpoint)) :
        s.protocol == "https" ? startswith(s.endpoint, "https://") :
        s.protocol == "http" ? startswith(s.endpoint, "http://") :
        can(regex("^[^@\\s]+@[^@\\s]+$", s.endpoint))
      )
    ])
    error_message = "subscriptions[].endpoint must match the protocol: a queue ARN for sqs, a function ARN for lambda, an https:// (or http://) URL, or an email address."
  }

  validation {
    condition = alltrue([
      for s in values(var.subscriptions) : !s.raw_message_delivery || contains(["sqs", "https", "http"], s.protocol)
    ])
    error_message = "raw_message_delivery is only supported for sqs, https and http subscriptions."
  }

  validation {
    condition     = alltrue([for s in values(var.subscriptions) : s.filter_policy == null ? true : can(jsondecode(s.filter_policy))])
    error_message = "subscriptions[].filter_policy must be a JSON document."
  }

  validation {
    condition     = alltrue([for s in values(var.subscriptions) : s.filter_policy_scope == null ? true : contains(["MessageAttributes", "MessageBody"], s.filter_policy_scope)])
    error_message = "subscriptions[].filter_policy_scope must be MessageAttributes or MessageBody."
  }

  validation {
    condition = alltrue([
      for s in values(var.subscriptions) : s.severities == null ? true : (
        length(coalesce(s.severities, [])) > 0 && alltrue([for sev in coalesce(s.severities, []) : contains(var.severities, sev)])
      )
    ])
    error_message = "subscriptions[].severities must be a non-empty subset of severities."
  }
}

variable "tags" {
  description = "Tags for the topics and the KMS key."
  type        = map(string)
  default     = {}
}
