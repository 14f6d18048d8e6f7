variable "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.dashboard_name))
    error_message = "dashboard_name must be 1-255 characters of letters, digits, hyphens and underscores."
  }
}

variable "region" {
  description = "Region the widgets read metrics from. Defaults to the provider's region."
  type        = string
  default     = null
}

variable "services" {
  description = <<-EOT
    Services to draw, one row each, in this order. `dimensions` defaults to exactly
    { Service = name }, as in the metric contract; `metrics` renames the contract's metrics
    for services that publish other names; `thresholds` draws the alarm thresholds as
    horizontal lines (rates as fractions, latency in ms, queue depth in items).
  EOT
  type = list(object({
    name       = string
    namespace  = string
    dimensions = optional(map(string))
    metrics = optional(object({
      request_count = optional(string, "RequestCount")
      http_5xx      = optional(string, "Http5xx")
      latency       = optional(string, "Latency")
      job_failed    = optional(string, "JobFailed")
      queue_depth   = optional(string, "QueueDepth")
    }), {})
    thresholds = optional(object({
      http_5xx_rate   = optional(number)
      job_failed_rate = optional(number)
      latency_p99_ms  = optional(number)
      queue_depth     = optional(number)
    }), {})
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.services : length(trimspace(s.name)) > 0 && length(trimspace(s.namespace)) > 0 && length(s.namespace) <= 255])
    error_message = "Each service needs a non-empty name and a namespace of 1-255 characters."
  }

  validation {
    condition     = length(distinct([for s in var.services : s.name])) == length(var.services)
    error_message = "Service names must be unique."
  }

  validation {
    condition = alltrue(flatten([
      for s in var.services : [
        for m in values(s.metrics) : length(trimspace(m)) > 0 && length(m) <= 255
      ]
    ]))
    error_message = "Metric names must be 1-255 characters."
  }

  validation {
    condition     = alltrue([for s in var.services : s.dimensions == null ? true : length(coalesce(s.dimensions, {})) <= 30])
    error_message = "A series has at most 30 dimensions."
  }
}

variable "alarm_arns" {
  description = "Alarms to show in the alarm-status widget at the top (one widget per 100 alarms). Empty: no widget."
  type        = list(string)
  default     = []
}

variable "sidecar" {
  description = "The sidecar's own health row: its self-metrics namespace and exactly the dimensions it publishes them with (its default_dimensions)."
  type = object({
    enabled    = optional(bool, true)
    namespace  = optional(string, "CWSidecar")
    dimensions = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = length(trimspace(var.sidecar.namespace)) > 0 && length(var.sidecar.namespace) <= 255 && length(var.sidecar.dimensions) <= 30
    error_message = "sidecar.namespace must be 1-255 characters and sidecar.dimensions at most 30."
  }
}

variable "period" {
  description = "Period of the graphs in seconds (1, 5, 10, 30 or a multiple of 60)."
  type        = number
  default     = 60

  validation {
    condition     = contains([1, 5, 10, 30], var.period) || (var.period > 0 && var.period % 60 == 0)
    error_message = "period must be 1, 5, 10, 30 or a multiple of 60 seconds."
  }
}

variable "time_range_start" {
  description = "Default time range of the dashboard, as an ISO 8601 duration relative to now (for example -PT3H)."
  type        = string
  default     = "-PT3H"

  validation {
    condition     = can(regex("^-P([0-9]+[WD])*(T([0-9]+[HMS])+)?$", var.time_range_start)) && var.time_range_start != "-P"
    error_message = "time_range_start must be a negative ISO 8601 duration such as -PT3H or -P1D."
  }
}

variable "catalog_rows" {
  description = "Rows from a metric catalog (its dashboard section), drawn below the sidecar's row: a header line and the row's widgets side by side, each graphing its series (namespace, metric, statistic, exact dimensions)."
  type = list(object({
    title = string
    widgets = list(object({
      title  = string
      period = optional(number)
      metrics = list(object({
        namespace  = string
        metric     = string
        statistic  = string
        dimensions = optional(map(string), {})
        label      = optional(string)
      }))
    }))
  }))
  default = []
}
