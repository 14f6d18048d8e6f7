variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "cw-sidecar-complete"
}

variable "services" {
  description = "Services publishing the metric contract through the sidecar (see the module's services input)."
  type = list(object({
    name                     = string
    namespace                = string
    dimensions               = optional(map(string))
    latency_p99_threshold_ms = optional(number, 1000)
    http_5xx_alarm_form      = optional(string, "average")
    alarm_overrides = optional(map(object({
      enabled             = optional(bool)
      threshold           = optional(number)
      period              = optional(number)
      evaluation_periods  = optional(number)
      datapoints_to_alarm = optional(number)
      high_resolution     = optional(bool)
      severity            = optional(string)
      treat_missing_data  = optional(string)
    })), {})
  }))
  default = [
    { name = "checkout", namespace = "Shop", latency_p99_threshold_ms = 800 },
    { name = "billing-worker", namespace = "Shop", latency_p99_threshold_ms = 2000, http_5xx_alarm_form = "ratio" },
  ]
}

variable "contract_alarm_overrides" {
  description = "Settings for the contract alarms of every service (see the module's contract_alarm_overrides input)."
  type = map(object({
    enabled             = optional(bool)
    threshold           = optional(number)
    period              = optional(number)
    evaluation_periods  = optional(number)
    datapoints_to_alarm = optional(number)
    high_resolution     = optional(bool)
    severity            = optional(string)
    treat_missing_data  = optional(string)
  }))
  default = {}
}

variable "sidecar_namespace" {
  description = "Namespace of the sidecar's self metrics."
  type        = string
  default     = "CWSidecar"
}

variable "sidecar_dimensions" {
  description = "Exactly the sidecar's default_dimensions (CW_SIDECAR_DEFAULT_DIMENSIONS); the services' alarms include them too, as the sidecar adds them to every record."
  type        = map(string)
  default     = {}
}

variable "sidecar_expected_replicas" {
  description = "Sidecar replicas sharing sidecar_dimensions; adds the heartbeat_replicas alarm when set."
  type        = number
  default     = null
}

variable "sidecar_flush_interval_seconds" {
  description = "The sidecar's flush interval in seconds."
  type        = number
  default     = 60
}

variable "sidecar_alarm_overrides" {
  description = "Settings for the sidecar's alarms (see the module's sidecar_alarm_overrides input)."
  type = map(object({
    enabled             = optional(bool)
    threshold           = optional(number)
    period              = optional(number)
    evaluation_periods  = optional(number)
    datapoints_to_alarm = optional(number)
    high_resolution     = optional(bool)
    severity            = optional(string)
    treat_missing_data  = optional(string)
  }))
  default = {}
}

variable "instrumented_namespace" {
  description = "Namespace the sidecar publishes the scraped or OTLP metrics of the chat service to (http_requests_total, db_errors_total)."
  type        = string
  default     = "Chat"
}

variable "instrumented_dimensions" {
  description = "Exactly the dimensions of db_errors_total, and of http_requests_total besides status. Null: sidecar_dimensions (the sidecar's default_dimensions, which it adds to every record)."
  type        = map(string)
  default     = null
}

variable "chat_5xx_ratio_alarm" {
  description = "The chat service's 5xx ratio alarm (see the module's ratio_alarms input): statuses, threshold (share), request-count guard, period and M of N."
  type = object({
    error_statuses      = optional(list(string), ["500", "502", "503", "504"])
    other_statuses      = optional(list(string), ["200", "201", "204", "400", "401", "404"])
    threshold           = optional(number, 0.05)
    min_requests        = optional(number, 20)
    period              = optional(number, 60)
    high_resolution     = optional(bool, false)
    evaluation_periods  = optional(number, 5)
    datapoints_to_alarm = optional(number, 3)
  })
  default = {}
}

variable "chat_db_errors_alarm" {
  description = "The chat service's \"any database error\" alarm (db_errors_total Sum > 0; see the module's nonzero_alarms input): period (10, 20 or 30 need high_resolution = true) and M of N."
  type = object({
    period              = optional(number, 60)
    high_resolution     = optional(bool, false)
    evaluation_periods  = optional(number, 1)
    datapoints_to_alarm = optional(number)
  })
  default = {}
}

variable "alert_email" {
  description = "Email address for critical alerts (the subscription must be confirmed from the email). Null: none."
  type        = string
  default     = null
}

variable "https_endpoint" {
  description = "HTTPS endpoint (a chat or paging webhook) for both severities. Null: none."
  type        = string
  default     = null
}

variable "lambda_function_arn" {
  description = "ARN of an existing Lambda function to invoke on critical alerts. Null: none."
  type        = string
  default     = null
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the topics' KMS key is deleted after destroy."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { Project = "cw-sidecar", Example = "complete" }
}

variable "catalog_file" {
  description = "The metric catalog rendered (alarms, dashboard rows); default: metrics.yaml beside this file, the one the demo's sidecar enforces."
  type        = string
  default     = null
}
