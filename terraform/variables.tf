################################################################################
# General
################################################################################

variable "name" {
  description = "Prefix of every resource name: topics \"<name>-critical\", alarms \"<name>-<service>-http-5xx-rate\", the dashboard \"<name>\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, hyphens and underscores (it is part of topic, alarm, dashboard and policy names)."
  }
}

variable "tags" {
  description = "Tags for every resource that takes tags."
  type        = map(string)
  default     = {}
}

################################################################################
# Services and the metric contract
################################################################################

variable "services" {
  description = <<-EOT
    Services that publish the metric contract through the sidecar. Each gets the contract's
    alarms and a dashboard row, in this order.
    - `name`: the value of the Service dimension.
    - `namespace`: the CloudWatch namespace the service publishes to.
    - `dimensions`: exactly the dimensions the contract series carry. Default: { Service = name }
      merged over sidecar_dimensions, because the sidecar adds its default_dimensions to every
      record. CloudWatch never matches a subset, so this must equal what is published.
    - `latency_p99_threshold_ms`: the latency_p99 alarm's threshold.
    - `http_5xx_alarm_form`: "average" (Average of the 0/1 Http5xx metric; the contract) or
      "ratio" (metric math, Http5xx Sum / RequestCount Sum, for services that publish counts).
    - `alarm_overrides`: per contract alarm (http_5xx_rate, latency_p99, job_failed_rate,
      queue_depth), settings that win over contract_alarm_overrides and the defaults.
  EOT
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
  default = []

  validation {
    condition     = alltrue([for s in var.services : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", s.name))])
    error_message = "services[].name must be 1-100 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (it is a dimension value and part of alarm names)."
  }

  validation {
    condition     = length(distinct([for s in var.services : s.name])) == length(var.services)
    error_message = "services[].name must be unique."
  }

  validation {
    condition = alltrue([
      for s in var.services : length(trimspace(s.namespace)) > 0 && length(s.namespace) <= 255 && !startswith(s.namespace, "AWS/")
    ])
    error_message = "services[].namespace must be 1-255 characters and must not start with AWS/ (reserved for AWS services)."
  }

  validation {
    condition = alltrue(flatten([
      for s in var.services : s.dimensions == null ? [true] : concat(
        [length(coalesce(s.dimensions, {})) >= 1 && length(coalesce(s.dimensions, {})) <= 30],
        [for n, v in coalesce(s.dimensions, {}) : length(trimspace(n)) > 0 && length(n) <= 255 && !startswith(n, ":") && length(trimspace(v)) > 0 && length(v) <= 1024],
      )
    ]))
    error_message = "services[].dimensions: 1-30 dimensions, names 1-255 characters not starting with ':', values 1-1024 characters, neither blank."
  }

  validation {
    condition     = alltrue([for s in var.services : s.latency_p99_threshold_ms > 0])
    error_message = "services[].latency_p99_threshold_ms must be greater than 0."
  }

  validation {
    condition     = alltrue([for s in var.services : contains(["average", "ratio"], s.http_5xx_alarm_form)])
    error_message = "services[].http_5xx_alarm_form must be \"average\" (Average of the 0/1 Http5xx metric) or \"ratio\" (Http5xx Sum / RequestCount Sum)."
  }

  validation {
    condition = alltrue(flatten([
      for s in var.services : [for k in keys(s.alarm_overrides) : contains(["http_5xx_rate", "latency_p99", "job_failed_rate", "queue_depth"], k)]
    ]))
    error_message = "services[].alarm_overrides keys must be contract alarms: http_5xx_rate, latency_p99, job_failed_rate, queue_depth."
  }

  validation {
    condition = alltrue(flatten([
      for s in var.services : [
        for o in values(s.alarm_overrides) : [
          o.period == null ? true : (floor(coalesce(o.period, 60)) == o.period && (coalesce(o.period, 60) % 60 == 0 && coalesce(o.period, 60) > 0 || (coalesce(o.high_resolution, false) && contains([10, 20, 30], coalesce(o.period, 60))))),
          o.evaluation_periods == null ? true : (coalesce(o.evaluation_periods, 1) >= 1 && floor(coalesce(o.evaluation_periods, 1)) == o.evaluation_periods),
          o.period == null || o.evaluation_periods == null ? true : coalesce(o.period, 60) * coalesce(o.evaluation_periods, 1) <= (coalesce(o.period, 60) < 3600 ? 86400 : 604800),
          o.datapoints_to_alarm == null ? true : (coalesce(o.datapoints_to_alarm, 1) >= 1 && coalesce(o.datapoints_to_alarm, 1) <= coalesce(o.evaluation_periods, o.datapoints_to_alarm)),
          o.treat_missing_data == null ? true : contains(["missing", "ignore", "breaching", "notBreaching"], coalesce(o.treat_missing_data, "missing")),
          o.severity == null ? true : contains(["critical", "warning"], coalesce(o.severity, "critical")),
        ]
      ]
    ]))
    error_message = <<-EOT
      services[].alarm_overrides: period must be a multiple of 60 s, or 10, 20 or 30 with high_resolution = true in the same override;
      evaluation_periods a whole number >= 1; period × evaluation_periods at most 86400 s (604800 s for periods of an hour or more);
      datapoints_to_alarm between 1 and evaluation_periods; treat_missing_data one of missing, ignore, breaching, notBreaching;
      severity critical or warning.
    EOT
  }

  validation {
    condition = alltrue(flatten([
      for s in var.services : [
        for k, o in s.alarm_overrides : o.threshold == null ? true : (
          contains(["http_5xx_rate", "job_failed_rate"], k) ? (coalesce(o.threshold, 0.5) > 0 && coalesce(o.threshold, 0.5) < 1) : coalesce(o.threshold, 1) >= 0
        )
      ]
    ]))
    error_message = "services[].alarm_overrides thresholds: http_5xx_rate and job_failed_rate are rates of a 0/1 metric, strictly between 0 and 1 (0.01 = 1%); latency_p99 (ms) and queue_depth must not be negative."
  }
}

variable "contract_alarm_overrides" {
  description = <<-EOT
    Settings for the contract alarms of every service, by contract alarm (http_5xx_rate,
    latency_p99, job_failed_rate, queue_depth). Per-service alarm_overrides win over these; unset
    fields keep the defaults of the metric contract. A period of 10, 20 or 30 s needs
    high_resolution = true (the metric must be published with StorageResolution 1).
  EOT
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

  validation {
    condition     = alltrue([for k in keys(var.contract_alarm_overrides) : contains(["http_5xx_rate", "latency_p99", "job_failed_rate", "queue_depth"], k)])
    error_message = "contract_alarm_overrides keys must be contract alarms: http_5xx_rate, latency_p99, job_failed_rate, queue_depth."
  }

  validation {
    condition = alltrue(flatten([
      for o in values(var.contract_alarm_overrides) : [
        o.period == null ? true : (floor(coalesce(o.period, 60)) == o.period && (coalesce(o.period, 60) % 60 == 0 && coalesce(o.period, 60) > 0 || (coalesce(o.high_resolution, false) && contains([10, 20, 30], coalesce(o.period, 60))))),
      ]
    ]))
    error_message = "contract_alarm_overrides: period must be a multiple of 60 seconds; 10, 20 or 30 only with high_resolution = true in the same override (metrics published with StorageResolution 1)."
  }

  validation {
    condition = alltrue(flatten([
      for o in values(var.contract_alarm_overrides) : [
        o.evaluation_periods == null ? true : (coalesce(o.evaluation_periods, 1) >= 1 && floor(coalesce(o.evaluation_periods, 1)) == o.evaluation_periods),
        o.period == null || o.evaluation_periods == null ? true : coalesce(o.period, 60) * coalesce(o.evaluation_periods, 1) <= (coalesce(o.period, 60) < 3600 ? 86400 : 604800),
      ]
    ]))
    error_message = "contract_alarm_overrides: evaluation_periods must be a whole number >= 1, and period × evaluation_periods at most 86400 s when the period is under an hour (604800 s otherwise)."
  }

  validation {
    condition = alltrue([
      for o in values(var.contract_alarm_overrides) : o.datapoints_to_alarm == null ? true : (
        coalesce(o.datapoints_to_alarm, 1) >= 1 && coalesce(o.datapoints_to_alarm, 1) <= coalesce(o.evaluation_periods, o.datapoints_to_alarm)
      )
    ])
    error_message = "contract_alarm_overrides: datapoints_to_alarm must be at least 1 and at most evaluation_periods."
  }

  validation {
    condition     = alltrue([for o in values(var.contract_alarm_overrides) : o.treat_missing_data == null ? true : contains(["missing", "ignore", "breaching", "notBreaching"], coalesce(o.treat_missing_data, "missing"))])
    error_message = "contract_alarm_overrides: treat_missing_data must be one of missing, ignore, breaching, notBreaching."
  }

  validation {
    condition     = alltrue([for o in values(var.contract_alarm_overrides) : o.severity == null ? true : contains(["critical", "warning"], coalesce(o.severity, "critical"))])
    error_message = "contract_alarm_overrides: severity must be critical or warning."
  }

  validation {
    condition = alltrue([
      for k, o in var.contract_alarm_overrides : o.threshold == null ? true : (
        contains(["http_5xx_rate", "job_failed_rate"], k) ? (coalesce(o.threshold, 0.5) > 0 && coalesce(o.threshold, 0.5) < 1) : coalesce(o.threshold, 1) >= 0
      )
    ])
    error_message = "contract_alarm_overrides thresholds: http_5xx_rate and job_failed_rate are rates of a 0/1 metric, strictly between 0 and 1 (0.01 = 1%); latency_p99 (ms) and queue_depth must not be negative."
  }
}

variable "service_composite_alarms" {
  description = "Create, per service, a composite \"<name>-<service>-health\" alarm (critical) that is in ALARM when any of the service's contract alarms is."
  type        = bool
  default     = false
}

################################################################################
# Alarms on scraped (Prometheus) and OTLP metrics
################################################################################

variable "ratio_alarms" {
  description = <<-EOT
    Ratio alarms on a counter split by a status dimension, as scraped from Prometheus or received
    over OTLP (e.g. http_requests_total{method,path,status}): Sum of the error statuses divided by
    the Sum of all listed statuses, above `threshold`, only when at least `min_requests` requests
    were counted in the period. CloudWatch alarms cannot use SEARCH, and match dimensions exactly,
    so every series is named: one metric per (label set, status), at most 10 per alarm
    (CloudWatch's hard limit for metric-math alarms). A status that is not listed is in neither
    sum.
    - `namespace`, `metric_name`: where the sidecar publishes the counter (the Prometheus family or
      OTLP metric name, e.g. "http_requests_total").
    - `dimensions`: exactly the dimensions every series carries besides the status dimension and
      `label_sets`. Default: sidecar_dimensions (the sidecar adds its default_dimensions to every
      record).
    - `label_sets`: the combinations of the other labels to add up, each merged into `dimensions`
      (e.g. [{ method = "GET", path = "/rooms" }, ...]). Default [{}]: the series carry no other
      labels (drop them in the sidecar's scrape config, or keep them and list the combinations).
    - `status_dimension` (default "status"), `error_statuses` (e.g. ["500", "502", "503", "504"]),
      `other_statuses` (the rest of the denominator, e.g. ["200", "201", "204", "400", "404"]).
    - `threshold`: the error share, strictly between 0 and 1 (0.05 = 5%).
    - `min_requests`: the request-count guard (at least 1): below it the ratio reads 0, so that
      1 failure in 2 requests at night does not page. Default 20.
    - `period` (60; 10, 20 or 30 with `high_resolution = true`), `evaluation_periods` (5),
      `datapoints_to_alarm` (default evaluation_periods), `treat_missing_data` ("notBreaching"),
      `severity` ("critical"), `alarm_name` (default "<name>-<key>"), `description`.
  EOT
  type = map(object({
    alarm_name          = optional(string)
    description         = optional(string)
    severity            = optional(string, "critical")
    namespace           = string
    metric_name         = string
    dimensions          = optional(map(string))
    label_sets          = optional(list(map(string)), [{}])
    status_dimension    = optional(string, "status")
    error_statuses      = list(string)
    other_statuses      = list(string)
    threshold           = number
    min_requests        = optional(number, 20)
    period              = optional(number, 60)
    high_resolution     = optional(bool, false)
    evaluation_periods  = optional(number, 5)
    datapoints_to_alarm = optional(number)
    treat_missing_data  = optional(string, "notBreaching")
    actions_enabled     = optional(bool, true)
  }))
  default = {}

  validation {
    condition = alltrue([
      for k in keys(var.ratio_alarms) : can(regex("^[A-Za-z0-9_-]{1,100}$", k)) && !contains(["http_5xx_rate", "latency_p99", "job_failed_rate", "queue_depth"], k)
    ])
    error_message = "ratio_alarms keys must be 1-100 letters, digits, hyphens or underscores, and not a contract alarm key (http_5xx_rate, latency_p99, job_failed_rate, queue_depth)."
  }

  validation {
    condition = alltrue([
      for a in values(var.ratio_alarms) : (
        length(trimspace(a.namespace)) > 0 && length(a.namespace) <= 255 && !startswith(a.namespace, "AWS/") &&
        length(trimspace(a.metric_name)) > 0 && length(a.metric_name) <= 255 &&
        (a.alarm_name == null ? true : length(trimspace(coalesce(a.alarm_name, " "))) > 0 && length(coalesce(a.alarm_name, " ")) <= 255)
      )
    ])
    error_message = "ratio_alarms: namespace (not AWS/...) and metric_name must be 1-255 characters; alarm_name, when set, 1-255 characters."
  }

  validation {
    condition = alltrue([
      for a in values(var.ratio_alarms) : (
        length(a.error_statuses) > 0 && length(a.other_statuses) > 0 &&
        length(distinct(concat(a.error_statuses, a.other_statuses))) == length(a.error_statuses) + length(a.other_statuses) &&
        alltrue([for s in concat(a.error_statuses, a.other_statuses) : length(trimspace(s)) > 0 && length(s) <= 1024])
      )
    ])
    error_message = "ratio_alarms: error_statuses and other_statuses must both be non-empty, without blanks, and no status may appear twice (in one list or in both)."
  }

  validation {
    condition = alltrue([
      for a in values(var.ratio_alarms) : length(a.label_sets) >= 1 && length(a.label_sets) * (length(a.error_statuses) + length(a.other_statuses)) <= 10
    ])
    error_message = "ratio_alarms: at least one label set, and at most 10 series per alarm (label_sets × statuses): CloudWatch's hard limit for a metric-math alarm, which cannot use SEARCH. Drop labels in the sidecar's scrape config, or split the alarm."
  }

  validation {
    condition = alltrue(flatten([
      for a in values(var.ratio_alarms) : concat(
        [length(trimspace(a.status_dimension)) > 0 && length(a.status_dimension) <= 255 && !startswith(a.status_dimension, ":")],
        [!contains(keys(coalesce(a.dimensions, {})), a.status_dimension)],
        [for n, v in coalesce(a.dimensions, {}) : length(trimspace(n)) > 0 && length(n) <= 255 && !startswith(n, ":") && length(trimspace(v)) > 0 && length(v) <= 1024],
        [for ls in a.label_sets : (
          !contains(keys(ls), a.status_dimension) &&
          length(setintersection(keys(ls), keys(coalesce(a.dimensions, {})))) == 0 &&
          length(ls) + length(coalesce(a.dimensions, {})) + 1 <= 30 &&
          alltrue([for n, v in ls : length(trimspace(n)) > 0 && length(n) <= 255 && !startswith(n, ":") && length(trimspace(v)) > 0 && length(v) <= 1024])
        )],
      )
    ]))
    error_message = "ratio_alarms: status_dimension must be a dimension name that is in neither dimensions nor a label set; label sets must not repeat names of dimensions; at most 30 dimensions per series; names 1-255 characters not starting with ':', values 1-1024 characters, neither blank."
  }

  validation {
    condition     = alltrue([for a in values(var.ratio_alarms) : a.threshold > 0 && a.threshold < 1 && a.min_requests >= 1])
    error_message = "ratio_alarms: threshold is a share of requests, strictly between 0 and 1 (0.05 = 5%); min_requests must be at least 1."
  }

  validation {
    condition = alltrue(flatten([
      for a in values(var.ratio_alarms) : [
        a.period > 0 && floor(a.period) == a.period && (a.period % 60 == 0 || (a.high_resolution && contains([10, 20, 30], a.period))),
        a.evaluation_periods >= 1 && floor(a.evaluation_periods) == a.evaluation_periods,
        a.period * a.evaluation_periods <= (a.period < 3600 ? 86400 : 604800),
        a.datapoints_to_alarm == null ? true : (coalesce(a.datapoints_to_alarm, 1) >= 1 && coalesce(a.datapoints_to_alarm, 1) <= a.evaluation_periods && floor(coalesce(a.datapoints_to_alarm, 1)) == a.datapoints_to_alarm),
        contains(["missing", "ignore", "breaching", "notBreaching"], a.treat_missing_data),
        contains(["critical", "warning"], a.severity),
      ]
    ]))
    error_message = <<-EOT
      ratio_alarms: period must be a multiple of 60 s, or 10, 20 or 30 with high_resolution = true; evaluation_periods a whole
      number >= 1; period × evaluation_periods at most 86400 s (604800 s for periods of an hour or more); datapoints_to_alarm
      between 1 and evaluation_periods; treat_missing_data one of missing, ignore, breaching, notBreaching; severity critical or warning.
    EOT
  }
}

variable "nonzero_alarms" {
  description = <<-EOT
    "Greater than zero" alarms on a counter, as scraped from Prometheus or received over OTLP (e.g.
    db_errors_total, "any database error"): the alarm fires when the counter's `statistic`
    (default Sum of the published increases) is above `threshold` (default 0) in a period.
    Missing data (no series yet, or no increase published) is not breaching unless
    treat_missing_data says otherwise.
    - `namespace`, `metric_name`: where the sidecar publishes the counter.
    - `dimensions`: exactly the series' dimensions. Default: sidecar_dimensions.
    - `statistic`: Sum (default), SampleCount or Maximum.
    - `period` (60; 10, 20 or 30 with `high_resolution = true`), `evaluation_periods` (1),
      `datapoints_to_alarm` (default evaluation_periods), `treat_missing_data` ("notBreaching"),
      `severity` ("critical"), `alarm_name` (default "<name>-<key>"), `description`.
  EOT
  type = map(object({
    alarm_name          = optional(string)
    description         = optional(string)
    severity            = optional(string, "critical")
    namespace           = string
    metric_name         = string
    dimensions          = optional(map(string))
    statistic           = optional(string, "Sum")
    threshold           = optional(number, 0)
    period              = optional(number, 60)
    high_resolution     = optional(bool, false)
    evaluation_periods  = optional(number, 1)
    datapoints_to_alarm = optional(number)
    treat_missing_data  = optional(string, "notBreaching")
    actions_enabled     = optional(bool, true)
  }))
  default = {}

  validation {
    condition = alltrue([
      for k in keys(var.nonzero_alarms) : can(regex("^[A-Za-z0-9_-]{1,100}$", k)) && !contains(["http_5xx_rate", "latency_p99", "job_failed_rate", "queue_depth"], k)
    ])
    error_message = "nonzero_alarms keys must be 1-100 letters, digits, hyphens or underscores, and not a contract alarm key (http_5xx_rate, latency_p99, job_failed_rate, queue_depth)."
  }

  validation {
    condition = alltrue([
      for a in values(var.nonzero_alarms) : (
        length(trimspace(a.namespace)) > 0 && length(a.namespace) <= 255 && !startswith(a.namespace, "AWS/") &&
        length(trimspace(a.metric_name)) > 0 && length(a.metric_name) <= 255 &&
        (a.alarm_name == null ? true : length(trimspace(coalesce(a.alarm_name, " "))) > 0 && length(coalesce(a.alarm_name, " ")) <= 255)
      )
    ])
    error_message = "nonzero_alarms: namespace (not AWS/...) and metric_name must be 1-255 characters; alarm_name, when set, 1-255 characters."
  }

  validation {
    condition = alltrue(flatten([
      for a in values(var.nonzero_alarms) : concat(
        [length(coalesce(a.dimensions, {})) <= 30],
        [for n, v in coalesce(a.dimensions, {}) : length(trimspace(n)) > 0 && length(n) <= 255 && !startswith(n, ":") && length(trimspace(v)) > 0 && length(v) <= 1024],
      )
    ]))
    error_message = "nonzero_alarms: at most 30 dimensions, names 1-255 characters not starting with ':', values 1-1024 characters, neither blank."
  }

  validation {
    condition     = alltrue([for a in values(var.nonzero_alarms) : contains(["Sum", "SampleCount", "Maximum"], a.statistic) && a.threshold >= 0])
    error_message = "nonzero_alarms: statistic must be Sum, SampleCount or Maximum, and threshold must not be negative (the alarm is statistic > threshold)."
  }

  validation {
    condition = alltrue(flatten([
      for a in values(var.nonzero_alarms) : [
        a.period > 0 && floor(a.period) == a.period && (a.period % 60 == 0 || (a.high_resolution && contains([10, 20, 30], a.period))),
        a.evaluation_periods >= 1 && floor(a.evaluation_periods) == a.evaluation_periods,
        a.period * a.evaluation_periods <= (a.period < 3600 ? 86400 : 604800),
        a.datapoints_to_alarm == null ? true : (coalesce(a.datapoints_to_alarm, 1) >= 1 && coalesce(a.datapoints_to_alarm, 1) <= a.evaluation_periods && floor(coalesce(a.datapoints_to_alarm, 1)) == a.datapoints_to_alarm),
        contains(["missing", "ignore", "breaching", "notBreaching"], a.treat_missing_data),
        contains(["critical", "warning"], a.severity),
      ]
    ]))
    error_message = <<-EOT
      nonzero_alarms: period must be a multiple of 60 s, or 10, 20 or 30 with high_resolution = true; evaluation_periods a whole
      number >= 1; period × evaluation_periods at most 86400 s (604800 s for periods of an hour or more); datapoints_to_alarm
      between 1 and evaluation_periods; treat_missing_data one of missing, ignore, breaching, notBreaching; severity critical or warning.
    EOT
  }
}

################################################################################
# The sidecar's own metrics and alarms
################################################################################

variable "sidecar_namespace" {
  description = "Namespace of the sidecar's self metrics (its self_metrics_namespace, CW_SIDECAR_SELF_METRICS_NAMESPACE)."
  type        = string
  default     = "CWSidecar"

  validation {
    condition     = length(trimspace(var.sidecar_namespace)) > 0 && length(var.sidecar_namespace) <= 255 && !startswith(var.sidecar_namespace, "AWS/")
    error_message = "sidecar_namespace must be 1-255 characters and must not start with AWS/."
  }
}

variable "sidecar_dimensions" {
  description = "Exactly the sidecar's default_dimensions (CW_SIDECAR_DEFAULT_DIMENSIONS): the only dimensions of its self metrics, and merged into every record it publishes, so also part of each service's default dimensions. An alarm with other dimensions watches a series that does not exist."
  type        = map(string)
  default     = {}

  validation {
    condition = length(var.sidecar_dimensions) <= 30 && alltrue([
      for n, v in var.sidecar_dimensions : length(trimspace(n)) > 0 && length(n) <= 255 && !startswith(n, ":") && length(trimspace(v)) > 0 && length(v) <= 1024
    ])
    error_message = "sidecar_dimensions: at most 30, names 1-255 characters not starting with ':', values 1-1024 characters, neither blank."
  }
}

variable "sidecar_alarms_enabled" {
  description = "Create the sidecar's own alarms (Heartbeat missing, DatumsDropped, PublishFailures, ActiveSeries near the series budget)."
  type        = bool
  default     = true
}

variable "sidecar_expected_replicas" {
  description = <<-EOT
    When sidecar replicas share their dimensions, the number expected to run: adds the
    heartbeat_replicas alarm, Heartbeat SampleCount below what that many replicas send, which
    sees one replica die while the others still beat. Null: no such alarm.
  EOT
  type        = number
  default     = null

  validation {
    condition     = var.sidecar_expected_replicas == null ? true : (coalesce(var.sidecar_expected_replicas, 1) >= 1 && floor(coalesce(var.sidecar_expected_replicas, 1)) == var.sidecar_expected_replicas)
    error_message = "sidecar_expected_replicas must be null or a whole number of at least 1."
  }
}

variable "sidecar_max_series" {
  description = "The sidecar's [cardinality] max_series (its series budget): sets the active_series alarm's threshold."
  type        = number
  default     = 10000

  validation {
    condition     = var.sidecar_max_series >= 1 && floor(var.sidecar_max_series) == var.sidecar_max_series
    error_message = "sidecar_max_series must be a whole number of at least 1."
  }
}

variable "sidecar_active_series_share" {
  description = "Share of sidecar_max_series at which the active_series alarm fires (ActiveSeries Maximum at or above it)."
  type        = number
  default     = 0.9

  validation {
    condition     = var.sidecar_active_series_share > 0 && var.sidecar_active_series_share <= 1
    error_message = "sidecar_active_series_share must be above 0 and at most 1."
  }
}

variable "sidecar_flush_interval_seconds" {
  description = "The sidecar's flush interval in seconds (one Heartbeat per flush): sets the heartbeat_replicas threshold."
  type        = number
  default     = 60

  validation {
    condition     = var.sidecar_flush_interval_seconds >= 1 && var.sidecar_flush_interval_seconds <= 3600
    error_message = "sidecar_flush_interval_seconds must be between 1 and 3600."
  }
}

variable "sidecar_alarm_overrides" {
  description = "Settings for the sidecar alarms by key (heartbeat, datums_dropped, publish_failures, active_series, heartbeat_replicas); unset fields keep the defaults."
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

  validation {
    condition     = alltrue([for k in keys(var.sidecar_alarm_overrides) : contains(["heartbeat", "datums_dropped", "publish_failures", "active_series", "heartbeat_replicas"], k)])
    error_message = "sidecar_alarm_overrides keys must be heartbeat, datums_dropped, publish_failures, active_series or heartbeat_replicas."
  }

  validation {
    condition = alltrue(flatten([
      for o in values(var.sidecar_alarm_overrides) : [
        o.period == null ? true : (floor(coalesce(o.period, 60)) == o.period && (coalesce(o.period, 60) % 60 == 0 && coalesce(o.period, 60) > 0 || (coalesce(o.high_resolution, false) && contains([10, 20, 30], coalesce(o.period, 60))))),
        o.evaluation_periods == null ? true : (coalesce(o.evaluation_periods, 1) >= 1 && floor(coalesce(o.evaluation_periods, 1)) == o.evaluation_periods),
        o.period == null || o.evaluation_periods == null ? true : coalesce(o.period, 60) * coalesce(o.evaluation_periods, 1) <= (coalesce(o.period, 60) < 3600 ? 86400 : 604800),
        o.datapoints_to_alarm == null ? true : (coalesce(o.datapoints_to_alarm, 1) >= 1 && coalesce(o.datapoints_to_alarm, 1) <= coalesce(o.evaluation_periods, o.datapoints_to_alarm)),
        o.treat_missing_data == null ? true : contains(["missing", "ignore", "breaching", "notBreaching"], coalesce(o.treat_missing_data, "missing")),
        o.severity == null ? true : contains(["critical", "warning"], coalesce(o.severity, "critical")),
        o.threshold == null ? true : coalesce(o.threshold, 0) >= 0,
      ]
    ]))
    error_message = <<-EOT
      sidecar_alarm_overrides: period must be a multiple of 60 s, or 10, 20 or 30 with high_resolution = true in the same override;
      evaluation_periods a whole number >= 1; period × evaluation_periods at most 86400 s (604800 s for periods of an hour or more);
      datapoints_to_alarm between 1 and evaluation_periods; treat_missing_data one of missing, ignore, breaching, notBreaching;
      severity critical or warning; threshold not negative.
    EOT
  }
}

################################################################################
# Notifications
################################################################################

variable "create_topics" {
  description = "Create the critical and warning SNS topics (modules/sns-alerts). False: use existing_topic_arns."
  type        = bool
  default     = true
}

variable "existing_topic_arns" {
  description = "Existing topic ARNs by severity (critical, warning), used when create_topics = false."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.existing_topic_arns : contains(["critical", "warning"], k) && can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\\.fifo)?$", v))])
    error_message = "existing_topic_arns maps critical and/or warning to SNS topic ARNs."
  }

  validation {
    condition     = var.create_topics || (contains(keys(var.existing_topic_arns), "critical") && contains(keys(var.existing_topic_arns), "warning"))
    error_message = "With create_topics = false, existing_topic_arns must give both critical and warning topic ARNs."
  }
}

variable "kms_encryption" {
  description = "Topic encryption: \"create\" a customer-managed KMS key CloudWatch can use, \"existing\" (kms_key_arn) or \"none\". The AWS-managed aws/sns key does not work with alarms."
  type        = string
  default     = "create"

  validation {
    condition     = contains(["create", "existing", "none"], var.kms_encryption)
    error_message = "kms_encryption must be one of create, existing, none."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the topics when kms_encryption = \"existing\"; its policy must grant cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*."
  type        = string
  default     = null
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before a created KMS key is deleted (7-30)."
  type        = number
  default     = 30
}

variable "subscriptions" {
  description = "Topic subscriptions by key; see modules/sns-alerts. `severities` limits the topics (default both)."
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
  }))
  default = {}
}

variable "notify_on_ok" {
  description = "Also notify the severity's topic when an alarm returns to OK."
  type        = bool
  default     = true
}

################################################################################
# Extra alarms
################################################################################

variable "extra_alarms" {
  description = "Further metric alarms, in the format of modules/metric-alarms (threshold, extended statistic or metric math); keys must not contain '.' (reserved for generated alarms). Named \"<name>-<key>\" unless alarm_name is set."
  type = map(object({
    alarm_name         = optional(string)
    description        = optional(string)
    severity           = optional(string)
    namespace          = optional(string)
    metric_name        = optional(string)
    dimensions         = optional(map(string), {})
    statistic          = optional(string)
    extended_statistic = optional(string)
    unit               = optional(string)
    metric_queries = optional(list(object({
      id          = string
      expression  = optional(string)
      label       = optional(string)
      return_data = optional(bool, false)
      metric = optional(object({
        namespace   = string
        metric_name = string
        dimensions  = optional(map(string), {})
        stat        = string
        unit        = optional(string)
      }))
    })), [])
    comparison_operator = string
    threshold           = number
    period              = optional(number, 60)
    high_resolution     = optional(bool, false)
    evaluation_periods  = optional(number, 1)
    datapoints_to_alarm = optional(number)
    treat_missing_data  = optional(string, "missing")
    actions_enabled     = optional(bool, true)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_alarms) : can(regex("^[A-Za-z0-9_-]{1,100}$", k))])
    error_message = "extra_alarms keys must be 1-100 letters, digits, hyphens or underscores."
  }
}

variable "composite_alarms" {
  description = "Further composite alarms, in the format of modules/metric-alarms. `alarms` refers to alarm keys: \"<service>.<contract alarm>\", \"sidecar.<alarm>\" or an extra_alarms key."
  type = map(object({
    alarm_name      = optional(string)
    description     = optional(string)
    severity        = optional(string)
    alarm_rule      = optional(string)
    alarms          = optional(list(string))
    operator        = optional(string, "OR")
    actions_enabled = optional(bool, true)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.composite_alarms) : can(regex("^[A-Za-z0-9_-]{1,100}$", k))])
    error_message = "composite_alarms keys must be 1-100 letters, digits, hyphens or underscores."
  }
}

################################################################################
# Dashboard
################################################################################

variable "dashboard_enabled" {
  description = "Create the CloudWatch dashboard (modules/dashboard)."
  type        = bool
  default     = true
}

variable "dashboard_name" {
  description = "Name of the dashboard; defaults to name."
  type        = string
  default     = null
}

variable "dashboard_period" {
  description = "Period of the dashboard graphs in seconds (1, 5, 10, 30 or a multiple of 60)."
  type        = number
  default     = 60
}

################################################################################
# Sidecar IAM policy
################################################################################

variable "create_sidecar_policy" {
  description = "Create the sidecar's IAM policy (modules/sidecar-iam): cloudwatch:PutMetricData restricted to the services' namespaces and sidecar_namespace."
  type        = bool
  default     = true
}

variable "sidecar_policy_extra_namespaces" {
  description = "Further namespaces the sidecar may publish to, beyond the services' and sidecar_namespace."
  type        = list(string)
  default     = []
}

variable "sidecar_policy_role_names" {
  description = "Roles to attach the sidecar policy to, as label => role name (an ECS task role, an IRSA role)."
  type        = map(string)
  default     = {}
}
