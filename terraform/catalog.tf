################################################################################
# The metric catalog (docs/catalog.schema.json): `catalog = yamldecode(file("metrics.yaml"))`
# renders its alarms and its dashboard rows from the file the sidecar enforces. The typed
# variables (services, ratio_alarms, ...) work as before, beside it or without it.
################################################################################

variable "catalog" {
  description = "A metric catalog, as yamldecode(file(\"metrics.yaml\")) reads it (see docs/catalog.schema.json and the README's metric catalog): its alarms (\"catalog.<name>\" keys, named \"<name>-<alarm name>\") and its dashboard rows are rendered; null renders nothing. Check the file with `cw-sidecar catalog check`."
  type        = any
  default     = null

  validation {
    condition     = var.catalog == null ? true : try(length(var.catalog.namespaces) > 0 && length([for m in try(var.catalog.metrics, []) : "${m.name}${m.unit}${m.kind}"]) >= 0, false)
    error_message = "catalog: needs namespaces and, for each metric, name, unit and kind (check the file with cw-sidecar catalog check)."
  }

  validation {
    condition = var.catalog == null ? true : alltrue([
      for a in try(var.catalog.alarms, []) : contains([for m in try(var.catalog.metrics, []) : m.name], a.metric) && contains(concat([for m in try(var.catalog.metrics, []) : m.name], ["-"]), try(a.denominator, "-"))
    ])
    error_message = "catalog: an alarm names a metric the catalog does not declare (cw-sidecar catalog check names it and the closest entry)."
  }

  validation {
    condition     = var.catalog == null ? true : alltrue([for a in try(var.catalog.alarms, []) : contains(["critical", "warning"], a.topic) && contains(["threshold", "ratio", "nonzero"], a.kind)])
    error_message = "catalog: each alarm's kind is threshold, ratio or nonzero and its topic critical or warning."
  }
}

locals {
  catalog_namespace = var.catalog == null ? null : (length(var.catalog.namespaces) == 1 ? var.catalog.namespaces[0] : null)
  catalog_stats     = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"]

  catalog_alarms = {
    for a in try(var.catalog.alarms, []) : "catalog.${a.name}" => {
      alarm_name          = "${var.name}-${a.name}"
      description         = coalesce(try(a.description, null), "${a.name}: ${a.kind} alarm on ${a.metric} (metric catalog).")
      severity            = a.topic
      namespace           = a.kind == "ratio" ? null : coalesce(try(a.namespace, null), local.catalog_namespace)
      metric_name         = a.kind == "ratio" ? null : a.metric
      dimensions          = a.kind == "ratio" ? tomap({}) : tomap(try(a.dimensions, {}))
      statistic           = a.kind == "nonzero" ? "Sum" : (a.kind == "threshold" && contains(local.catalog_stats, try(a.statistic, "")) ? a.statistic : null)
      extended_statistic  = a.kind == "threshold" && !contains(local.catalog_stats, try(a.statistic, "")) ? a.statistic : null
      unit                = null
      comparison_operator = a.kind == "nonzero" ? "GreaterThanThreshold" : try(a.comparison, "GreaterThanThreshold")
      threshold           = a.kind == "nonzero" ? 0 : a.threshold
      period              = a.period
      high_resolution     = a.period < 60
      evaluation_periods  = try(a.evaluation_periods, 1)
      datapoints_to_alarm = try(a.datapoints_to_alarm, try(a.evaluation_periods, 1))
      treat_missing_data  = try(a.treat_missing_data, "missing")
      actions_enabled     = true
      # A ratio: the metric's Sum over the denominator's, 0 without requests.
      metric_queries = concat(
        [for _ in range(a.kind == "ratio" ? 1 : 0) : {
          id     = "numerator", expression = null, label = a.metric, return_data = false
          metric = { namespace = coalesce(try(a.namespace, null), local.catalog_namespace), metric_name = a.metric, dimensions = tomap(try(a.dimensions, {})), stat = "Sum", unit = null }
        }],
        [for _ in range(a.kind == "ratio" ? 1 : 0) : {
          id     = "denominator", expression = null, label = try(a.denominator, ""), return_data = false
          metric = { namespace = coalesce(try(a.namespace, null), local.catalog_namespace), metric_name = try(a.denominator, ""), dimensions = tomap(try(a.dimensions, {})), stat = "Sum", unit = null }
        }],
        [for _ in range(a.kind == "ratio" ? 1 : 0) : {
          id = "ratio", expression = "IF(denominator > 0, numerator / denominator, 0)", label = "${a.metric} / ${try(a.denominator, "")}", return_data = true, metric = null
        }],
      )
    }
  }

  catalog_rows = [
    for row in try(var.catalog.dashboard.rows, []) : {
      title = row.title
      widgets = [
        for w in row.widgets : {
          title  = w.title
          period = try(w.period, null)
          metrics = [
            for m in w.metrics : {
              namespace  = coalesce(try(m.namespace, null), local.catalog_namespace)
              metric     = m.metric
              statistic  = m.statistic
              dimensions = tomap(try(m.dimensions, {}))
              label      = try(m.label, null)
            }
          ]
        }
      ]
    }
  ]

  catalog_namespaces = var.catalog == null ? [] : var.catalog.namespaces
}

output "catalog_alarm_names" {
  description = "The catalog's alarm names by the alarm's name in the catalog."
  value       = { for k, a in local.catalog_alarms : trimprefix(k, "catalog.") => a.alarm_name }
}
