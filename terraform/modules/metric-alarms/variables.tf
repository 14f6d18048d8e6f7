variable "name_prefix" {
  description = "Prefix of the names of alarms that set no alarm_name of their own (the map key follows it)."
  type        = string
  default     = ""

  validation {
    condition     = length(var.name_prefix) <= 200
    error_message = "name_prefix must be at most 200 characters, so that alarm names stay within CloudWatch's 255."
  }
}

variable "severity_actions" {
  description = "Actions per severity: an alarm with severity \"critical\" notifies severity_actions[\"critical\"]. Usually the topic ARNs of the sns-alerts module."
  type = map(object({
    alarm_actions             = list(string)
    ok_actions                = optional(list(string), [])
    insufficient_data_actions = optional(list(string), [])
  }))
  default = {}

  validation {
    condition = alltrue(flatten([
      for s in values(var.severity_actions) : [
        length(s.alarm_actions) <= 5,
        length(s.ok_actions) <= 5,
        length(s.insufficient_data_actions) <= 5,
      ]
    ]))
    error_message = "CloudWatch allows at most 5 alarm, 5 OK and 5 insufficient-data actions per alarm."
  }
}

variable "alarms" {
  description = <<-EOT
    Metric alarms by key. Each is one of three kinds:
    - a threshold on a statistic (`statistic` = SampleCount, Average, Sum, Minimum or Maximum),
    - a threshold on an extended statistic (`extended_statistic`, e.g. "p99"),
    - a metric-math alarm (`metric_queries`, exactly one of them with return_data = true).
    `period` applies to every metric of the alarm. `high_resolution = true` declares that the
    metric is published with StorageResolution 1 and allows periods of 10, 20 or 30 seconds.
    `dimensions` must equal exactly the dimensions the series is published with: CloudWatch
    never matches a subset. `datapoints_to_alarm` (M of N) defaults to `evaluation_periods`.
    `severity` (null for no actions) picks the actions from `severity_actions`.
  EOT
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
    condition = alltrue([
      for k, a in var.alarms : length(trimspace(k)) > 0 && (a.alarm_name == null ? true : length(trimspace(a.alarm_name)) > 0)
    ])
    error_message = "Alarm keys and alarm_name must not be empty."
  }

  validation {
    condition = alltrue([
      for k, a in var.alarms : length(a.alarm_name != null ? a.alarm_name : "${var.name_prefix}${k}") <= 255
    ])
    error_message = "Alarm names (name_prefix + key, or alarm_name) must be at most 255 characters."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : contains([
        "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
      ], a.comparison_operator)
    ])
    error_message = "comparison_operator must be one of GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold (anomaly-detection operators are not supported by this module)."
  }

  validation {
    condition     = alltrue([for a in values(var.alarms) : contains(["missing", "ignore", "breaching", "notBreaching"], a.treat_missing_data)])
    error_message = "treat_missing_data must be one of missing, ignore, breaching, notBreaching."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : (
        a.period > 0 && floor(a.period) == a.period && (
          a.period % 60 == 0 || (a.high_resolution && contains([10, 20, 30], a.period))
        )
      )
    ])
    error_message = "period must be a multiple of 60 seconds; 10, 20 or 30 are allowed only for high-resolution metrics (high_resolution = true)."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : a.evaluation_periods >= 1 && floor(a.evaluation_periods) == a.evaluation_periods
    ])
    error_message = "evaluation_periods must be a whole number of at least 1."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : a.period * a.evaluation_periods <= (a.period < 3600 ? 86400 : 604800)
    ])
    error_message = "period × evaluation_periods must be at most 86400 s (one day) when the period is under an hour, and at most 604800 s (7 days) otherwise."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : a.datapoints_to_alarm == null ? true : (
        a.datapoints_to_alarm >= 1 && a.datapoints_to_alarm <= a.evaluation_periods && floor(a.datapoints_to_alarm) == a.datapoints_to_alarm
      )
    ])
    error_message = "datapoints_to_alarm must be a whole number between 1 and evaluation_periods."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : (
        (a.statistic != null ? 1 : 0) + (a.extended_statistic != null ? 1 : 0) + (length(a.metric_queries) > 0 ? 1 : 0)
      ) == 1
    ])
    error_message = "Each alarm sets exactly one of statistic, extended_statistic or metric_queries."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : a.statistic == null ? true : contains(["SampleCount", "Average", "Sum", "Minimum", "Maximum"], a.statistic)
    ])
    error_message = "statistic must be one of SampleCount, Average, Sum, Minimum, Maximum (use extended_statistic for percentiles)."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : a.extended_statistic == null ? true : can(regex("^(p|tm|wm|tc|ts)(100|[0-9]{1,2}(\\.[0-9]{1,10})?)$", a.extended_statistic))
    ])
    error_message = "extended_statistic must be a percentile such as p99 or p99.9 (or a trimmed statistic such as tm90)."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : length(a.metric_queries) > 0 ? true : (
        a.namespace != null && a.metric_name != null &&
        length(trimspace(coalesce(a.namespace, " "))) > 0 && length(a.namespace == null ? "" : a.namespace) <= 255 &&
        length(trimspace(coalesce(a.metric_name, " "))) > 0 && length(a.metric_name == null ? "" : a.metric_name) <= 255
      )
    ])
    error_message = "A statistic or extended_statistic alarm needs a namespace and a metric_name, each 1-255 characters."
  }

  validation {
    condition = alltrue(flatten([
      for a in values(var.alarms) : concat(
        [length(a.dimensions) <= 30],
        [for n, v in a.dimensions : length(trimspace(n)) > 0 && length(n) <= 255 && !startswith(n, ":") && length(trimspace(v)) > 0 && length(v) <= 1024],
      )
    ]))
    error_message = "dimensions: at most 30, names 1-255 characters not starting with ':', values 1-1024 characters, neither blank."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : length(a.metric_queries) == 0 ? true : (
        length([for q in a.metric_queries : q if q.return_data]) == 1 &&
        alltrue([for q in a.metric_queries : can(regex("^[a-z][a-zA-Z0-9_]*$", q.id)) && ((q.expression != null) != (q.metric != null))])
      )
    ])
    error_message = "metric_queries: exactly one query has return_data = true; each id starts with a lowercase letter and has letters, digits or _; each query has either expression or metric."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : (
        length([for q in a.metric_queries : q if q.metric != null]) <= 10 &&
        length([for q in a.metric_queries : q if q.expression != null]) <= 10 &&
        length(distinct([for q in a.metric_queries : q.id])) == length(a.metric_queries)
      )
    ])
    error_message = "metric_queries: at most 10 metrics and 10 expressions per alarm (CloudWatch's hard limits), and ids must be unique."
  }

  validation {
    condition = alltrue(flatten([
      for a in values(var.alarms) : [
        for q in a.metric_queries : q.metric == null ? true : (
          length(trimspace(q.metric.namespace)) > 0 && length(trimspace(q.metric.metric_name)) > 0 &&
          length(q.metric.dimensions) <= 30 &&
          (contains(["SampleCount", "Average", "Sum", "Minimum", "Maximum"], q.metric.stat) || can(regex("^(p|tm|wm|tc|ts)(100|[0-9]{1,2}(\\.[0-9]{1,10})?)$", q.metric.stat)))
        )
      ]
    ]))
    error_message = "metric_queries[].metric needs a non-empty namespace and metric_name, at most 30 dimensions, and a stat such as Sum, Average or p99."
  }

  validation {
    condition = alltrue([
      for a in values(var.alarms) : a.severity == null ? true : contains(keys(var.severity_actions), a.severity)
    ])
    error_message = "severity must be null (no actions) or one of the keys of severity_actions."
  }
}

variable "composite_alarms" {
  description = <<-EOT
    Composite alarms by key. Give either `alarm_rule` (CloudWatch rule syntax, referring to alarm
    names) or `alarms`, a list of keys of `alarms` combined with `operator` (OR or AND).
    The composite's actions follow its `severity`, like metric alarms.
  EOT
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
    condition = alltrue([
      for k, c in var.composite_alarms : length(trimspace(k)) > 0 && (c.alarm_name == null ? true : length(trimspace(c.alarm_name)) > 0)
    ])
    error_message = "Composite alarm keys and alarm_name must not be empty."
  }

  validation {
    condition = alltrue([
      for c in values(var.composite_alarms) : (c.alarm_rule != null) != (c.alarms != null)
    ])
    error_message = "Each composite alarm sets exactly one of alarm_rule or alarms."
  }

  validation {
    condition = alltrue([
      for c in values(var.composite_alarms) : c.alarms == null ? true : (
        length(coalesce(c.alarms, [])) > 0 && alltrue([for k in coalesce(c.alarms, []) : contains(keys(var.alarms), k)])
      )
    ])
    error_message = "composite_alarms[].alarms must be a non-empty list of keys of the alarms input."
  }

  validation {
    condition     = alltrue([for c in values(var.composite_alarms) : contains(["OR", "AND"], c.operator)])
    error_message = "composite_alarms[].operator must be OR or AND."
  }

  validation {
    condition     = alltrue([for c in values(var.composite_alarms) : c.alarm_rule == null ? true : length(trimspace(coalesce(c.alarm_rule, " "))) > 0 && length(c.alarm_rule == null ? "" : c.alarm_rule) <= 10240])
    error_message = "composite_alarms[].alarm_rule must be 1-10240 characters."
  }

  validation {
    condition = alltrue([
      for c in values(var.composite_alarms) : c.severity == null ? true : contains(keys(var.severity_actions), c.severity)
    ])
    error_message = "composite_alarms[].severity must be null (no actions) or one of the keys of severity_actions."
  }
}

variable "tags" {
  description = "Tags for every alarm."
  type        = map(string)
  default     = {}
}
