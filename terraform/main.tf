data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  arn_prefix = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"

  ##############################################################################
  # The metric contract: what services publish (dimensions { Service = name }, plus the
  # sidecar's default dimensions) and the default alarm on each metric. The
  # thresholds come from past incidents: 5xx rate above 1%, job failures above 5%,
  # queue depth above 1000.
  ##############################################################################
  contract_alarms = {
    http_5xx_rate = {
      metric_name         = "Http5xx"
      statistic           = "Average" # Http5xx is 1 for a 5xx response, else 0: Average is the 5xx rate
      extended_statistic  = null
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0.01
      period              = 60
      evaluation_periods  = 5
      datapoints_to_alarm = 5 # above 1% for 5 minutes
      severity            = "critical"
      treat_missing_data  = "notBreaching" # no requests is not an error
      summary             = "5xx rate (Average of Http5xx) above"
    }
    latency_p99 = {
      metric_name         = "Latency"
      statistic           = null
      extended_statistic  = "p99"
      comparison_operator = "GreaterThanThreshold"
      threshold           = null # per service: latency_p99_threshold_ms
      period              = 60
      evaluation_periods  = 5
      datapoints_to_alarm = 3 # 3 of 5 minutes: one slow minute is not an incident
      severity            = "warning"
      treat_missing_data  = "notBreaching"
      summary             = "p99 latency (ms) above"
    }
    job_failed_rate = {
      metric_name         = "JobFailed"
      statistic           = "Average" # JobFailed is 1 for a failed job, else 0
      extended_statistic  = null
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0.05
      period              = 60
      evaluation_periods  = 5
      datapoints_to_alarm = 3
      severity            = "critical"
      treat_missing_data  = "notBreaching"
      summary             = "job failure rate (Average of JobFailed) above"
    }
    queue_depth = {
      metric_name         = "QueueDepth"
      statistic           = "Maximum"
      extended_statistic  = null
      comparison_operator = "GreaterThanThreshold"
      threshold           = 1000
      period              = 60
      evaluation_periods  = 5
      datapoints_to_alarm = 5
      severity            = "warning"
      treat_missing_data  = "notBreaching"
      summary             = "queue depth (Maximum of QueueDepth) above"
    }
  }

  # The sidecar merges its default_dimensions into every record it receives (a record's
  # own value wins), so a service's series carry them too: by default exactly
  # sidecar_dimensions + { Service = name }, which is { Service = name } for a sidecar
  # without default dimensions.
  services = [
    for s in var.services : merge(s, {
      dimensions = coalesce(s.dimensions, merge(var.sidecar_dimensions, { Service = s.name }))
    })
  ]

  # Effective settings per (service, contract alarm): service override, then
  # contract_alarm_overrides, then the contract's default.
  service_alarm_settings = {
    for s in local.services : s.name => {
      for ck, d in local.contract_alarms : ck => {
        enabled             = coalesce(try(s.alarm_overrides[ck].enabled, null), try(var.contract_alarm_overrides[ck].enabled, null), true)
        threshold           = coalesce(try(s.alarm_overrides[ck].threshold, null), try(var.contract_alarm_overrides[ck].threshold, null), ck == "latency_p99" ? s.latency_p99_threshold_ms : d.threshold)
        period              = coalesce(try(s.alarm_overrides[ck].period, null), try(var.contract_alarm_overrides[ck].period, null), d.period)
        evaluation_periods  = coalesce(try(s.alarm_overrides[ck].evaluation_periods, null), try(var.contract_alarm_overrides[ck].evaluation_periods, null), d.evaluation_periods)
        datapoints_to_alarm = try(coalesce(try(s.alarm_overrides[ck].datapoints_to_alarm, null), try(var.contract_alarm_overrides[ck].datapoints_to_alarm, null)), null)
        high_resolution     = coalesce(try(s.alarm_overrides[ck].high_resolution, null), try(var.contract_alarm_overrides[ck].high_resolution, null), false)
        severity            = coalesce(try(s.alarm_overrides[ck].severity, null), try(var.contract_alarm_overrides[ck].severity, null), d.severity)
        treat_missing_data  = coalesce(try(s.alarm_overrides[ck].treat_missing_data, null), try(var.contract_alarm_overrides[ck].treat_missing_data, null), d.treat_missing_data)
      }
    }
  }

  service_alarms = merge([
    for s in local.services : {
      for ck, d in local.contract_alarms : "${s.name}.${ck}" => {
        alarm_name  = "${var.name}-${s.name}-${replace(ck, "_", "-")}"
        description = "${s.name}: ${d.summary} ${local.service_alarm_settings[s.name][ck].threshold} (metric contract, ${ck})"
        severity    = local.service_alarm_settings[s.name][ck].severity
        # The contract's form, or metric math for services that publish 5xx and request counts.
        namespace          = ck == "http_5xx_rate" && s.http_5xx_alarm_form == "ratio" ? null : s.namespace
        metric_name        = ck == "http_5xx_rate" && s.http_5xx_alarm_form == "ratio" ? null : d.metric_name
        dimensions         = ck == "http_5xx_rate" && s.http_5xx_alarm_form == "ratio" ? {} : s.dimensions
        statistic          = ck == "http_5xx_rate" && s.http_5xx_alarm_form == "ratio" ? null : d.statistic
        extended_statistic = d.extended_statistic
        metric_queries = [for q in [
          { id = "errors", expression = null, label = "5xx responses", return_data = false, metric = { namespace = s.namespace, metric_name = "Http5xx", dimensions = s.dimensions, stat = "Sum", unit = null } },
          { id = "requests", expression = null, label = "requests", return_data = false, metric = { namespace = s.namespace, metric_name = "RequestCount", dimensions = s.dimensions, stat = "Sum", unit = null } },
          { id = "rate", expression = "errors / requests", label = "5xx rate", return_data = true, metric = null },
        ] : q if ck == "http_5xx_rate" && s.http_5xx_alarm_form == "ratio"]
        comparison_operator = d.comparison_operator
        threshold           = local.service_alarm_settings[s.name][ck].threshold
        period              = local.service_alarm_settings[s.name][ck].period
        high_resolution     = local.service_alarm_settings[s.name][ck].high_resolution
        evaluation_periods  = local.service_alarm_settings[s.name][ck].evaluation_periods
        # Unless set, the default M of N, capped by a smaller evaluation_periods.
        datapoints_to_alarm = coalesce(local.service_alarm_settings[s.name][ck].datapoints_to_alarm, min(d.datapoints_to_alarm, local.service_alarm_settings[s.name][ck].evaluation_periods))
        treat_missing_data  = local.service_alarm_settings[s.name][ck].treat_missing_data
      } if local.service_alarm_settings[s.name][ck].enabled
    }
  ]...)

  ##############################################################################
  # The sidecar's own alarms, on the self metrics it publishes once per flush with
  # exactly its default dimensions.
  ##############################################################################
  sidecar_flushes_per_period = max(1, floor(coalesce(try(var.sidecar_alarm_overrides.heartbeat_replicas.period, null), 300) / var.sidecar_flush_interval_seconds))

  sidecar_alarm_defaults = {
    heartbeat = {
      metric_name         = "Heartbeat"
      statistic           = "SampleCount"
      comparison_operator = "LessThanThreshold"
      threshold           = 1
      period              = 60
      evaluation_periods  = 3
      datapoints_to_alarm = 3
      severity            = "critical"
      treat_missing_data  = "breaching" # no heartbeat at all is the failure this alarm is for
      enabled             = true
      description         = "cw-sidecar Heartbeat missing: the sidecar is down or cannot publish, and every alarm on its metrics is blind."
    }
    datums_dropped = {
      metric_name         = "DatumsDropped"
      statistic           = "Sum"
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0
      period              = 60
      evaluation_periods  = 1
      datapoints_to_alarm = 1
      severity            = "warning"
      treat_missing_data  = "notBreaching"
      enabled             = true
      description         = "cw-sidecar dropped datums: metrics were lost (buffer full or publishing gave up)."
    }
    publish_failures = {
      metric_name         = "PublishFailures"
      statistic           = "Sum"
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0
      period              = 60
      evaluation_periods  = 5
      datapoints_to_alarm = 5
      severity            = "warning"
      treat_missing_data  = "notBreaching"
      enabled             = true
      description         = "cw-sidecar PutMetricData failing for 5 minutes: check credentials, IAM policy, throttling and network."
    }
    active_series = {
      metric_name         = "ActiveSeries"
      statistic           = "Maximum"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      # The sidecar's [cardinality] max_series: past it new series go to AllOther (or are
      # refused), so warn while there is room left.
      threshold           = floor(var.sidecar_max_series * var.sidecar_active_series_share)
      period              = 300
      evaluation_periods  = 1
      datapoints_to_alarm = 1
      severity            = "warning"
      treat_missing_data  = "notBreaching"
      enabled             = true
      description         = "cw-sidecar ActiveSeries at ${var.sidecar_active_series_share * 100}% of its series budget (cardinality.max_series = ${var.sidecar_max_series}): new series will soon go to AllOther. Every series is a billed custom metric; see cw-sidecar cost for the widest metrics."
    }
    heartbeat_replicas = {
      metric_name         = "Heartbeat"
      statistic           = "SampleCount"
      comparison_operator = "LessThanThreshold"
      # Each replica sends one Heartbeat per flush: expected × flushes per period when all
      # run. Half a replica's worth of slack absorbs flushes landing either side of a boundary.
      threshold           = var.sidecar_expected_replicas == null ? 0 : (var.sidecar_expected_replicas - 0.5) * local.sidecar_flushes_per_period
      period              = 300
      evaluation_periods  = 2
      datapoints_to_alarm = 2
      severity            = "warning"
      treat_missing_data  = "breaching"
      enabled             = var.sidecar_expected_replicas != null
      description         = "cw-sidecar replicas: fewer Heartbeats than ${coalesce(var.sidecar_expected_replicas, 0)} replicas send; one of them stopped."
    }
  }

  sidecar_alarms = {
    for k, d in local.sidecar_alarm_defaults : "sidecar.${k}" => {
      alarm_name          = "${var.name}-sidecar-${replace(k, "_", "-")}"
      description         = d.description
      severity            = coalesce(try(var.sidecar_alarm_overrides[k].severity, null), d.severity)
      namespace           = var.sidecar_namespace
      metric_name         = d.metric_name
      dimensions          = var.sidecar_dimensions
      statistic           = d.statistic
      extended_statistic  = null
      metric_queries      = []
      comparison_operator = d.comparison_operator
      threshold           = coalesce(try(var.sidecar_alarm_overrides[k].threshold, null), d.threshold)
      period              = coalesce(try(var.sidecar_alarm_overrides[k].period, null), d.period)
      high_resolution     = coalesce(try(var.sidecar_alarm_overrides[k].high_resolution, null), false)
      evaluation_periods  = coalesce(try(var.sidecar_alarm_overrides[k].evaluation_periods, null), d.evaluation_periods)
      datapoints_to_alarm = coalesce(try(var.sidecar_alarm_overrides[k].datapoints_to_alarm, null), min(d.datapoints_to_alarm, coalesce(try(var.sidecar_alarm_overrides[k].evaluation_periods, null), d.evaluation_periods)))
      treat_missing_data  = coalesce(try(var.sidecar_alarm_overrides[k].treat_missing_data, null), d.treat_missing_data)
    } if var.sidecar_alarms_enabled && coalesce(try(var.sidecar_alarm_overrides[k].enabled, null), d.enabled)
  }

  extra_alarms = {
    for k, a in var.extra_alarms : k => merge(a, { alarm_name = coalesce(a.alarm_name, "${var.name}-${k}") })
  }

  ##############################################################################
  # Alarms on scraped and OTLP metrics. CloudWatch alarms cannot use SEARCH and
  # match dimensions exactly, so a ratio alarm names each (label set, status)
  # series: Sum of the error statuses / Sum of every listed status, read as 0
  # below the request-count guard.
  ##############################################################################
  ratio_alarms = {
    for k, a in var.ratio_alarms : "ratio.${k}" => merge(
      {
        alarm_name = coalesce(a.alarm_name, "${var.name}-${k}")
        description = coalesce(a.description, format(
          "%s: share of %s in %s (%s) above %v of the requests, when at least %v requests in %ds (status not listed: in neither sum).",
          k, a.metric_name, a.namespace, join(",", a.error_statuses), a.threshold, a.min_requests, a.period,
        ))
        severity            = a.severity
        namespace           = null
        metric_name         = null
        dimensions          = {}
        statistic           = null
        extended_statistic  = null
        unit                = null
        comparison_operator = "GreaterThanThreshold"
        threshold           = a.threshold
        period              = a.period
        high_resolution     = a.high_resolution
        evaluation_periods  = a.evaluation_periods
        datapoints_to_alarm = a.datapoints_to_alarm
        treat_missing_data  = a.treat_missing_data
        actions_enabled     = a.actions_enabled
      },
      {
        # e0.. (error statuses) and o0.. (other statuses), label set by label set.
        metric_queries = concat(
          [
            for i, m in flatten([for ls in a.label_sets : [for st in a.error_statuses : merge(coalesce(a.dimensions, var.sidecar_dimensions), ls, { (a.status_dimension) = st })]]) : {
              id     = "e${i}", expression = null, label = "${a.status_dimension}=${m[a.status_dimension]}", return_data = false
              metric = { namespace = a.namespace, metric_name = a.metric_name, dimensions = m, stat = "Sum", unit = null }
            }
          ],
          [
            for i, m in flatten([for ls in a.label_sets : [for st in a.other_statuses : merge(coalesce(a.dimensions, var.sidecar_dimensions), ls, { (a.status_dimension) = st })]]) : {
              id     = "o${i}", expression = null, label = "${a.status_dimension}=${m[a.status_dimension]}", return_data = false
              metric = { namespace = a.namespace, metric_name = a.metric_name, dimensions = m, stat = "Sum", unit = null }
            }
          ],
          [
            {
              id         = "errors"
              expression = "SUM(FILL([${join(", ", [for i in range(length(a.label_sets) * length(a.error_statuses)) : "e${i}"])}], 0))"
              label      = "error requests", return_data = false, metric = null
            },
            {
              id         = "requests"
              expression = "SUM(FILL([${join(", ", concat([for i in range(length(a.label_sets) * length(a.error_statuses)) : "e${i}"], [for i in range(length(a.label_sets) * length(a.other_statuses)) : "o${i}"]))}], 0))"
              label      = "requests", return_data = false, metric = null
            },
            {
              id         = "ratio"
              expression = "IF(requests >= ${a.min_requests}, errors / requests, 0)"
              label      = "error share (0 under ${a.min_requests} requests)", return_data = true, metric = null
            },
          ],
        )
      },
    )
  }

  nonzero_alarms = {
    for k, a in var.nonzero_alarms : "nonzero.${k}" => {
      alarm_name = coalesce(a.alarm_name, "${var.name}-${k}")
      description = coalesce(a.description, format(
        "%s: %s %s of %s above %v in %ds (missing data: %s).",
        k, a.namespace, a.statistic, a.metric_name, a.threshold, a.period, a.treat_missing_data,
      ))
      severity            = a.severity
      namespace           = a.namespace
      metric_name         = a.metric_name
      dimensions          = coalesce(a.dimensions, var.sidecar_dimensions)
      statistic           = a.statistic
      extended_statistic  = null
      unit                = null
      metric_queries      = []
      comparison_operator = "GreaterThanThreshold"
      threshold           = a.threshold
      period              = a.period
      high_resolution     = a.high_resolution
      evaluation_periods  = a.evaluation_periods
      datapoints_to_alarm = a.datapoints_to_alarm
      treat_missing_data  = a.treat_missing_data
      actions_enabled     = a.actions_enabled
    }
  }

  # One map for the metric-alarms module; every value has the same shape.
  all_alarms = merge(
    { for k, a in local.service_alarms : k => merge(a, { unit = null, actions_enabled = true }) },
    { for k, a in local.sidecar_alarms : k => merge(a, { unit = null, actions_enabled = true }) },
    local.ratio_alarms,
    local.nonzero_alarms,
    local.extra_alarms,
    local.catalog_alarms,
  )

  service_composites = !var.service_composite_alarms ? {} : {
    for s in local.services : "${s.name}.health" => {
      alarm_name      = "${var.name}-${s.name}-health"
      description     = "${s.name}: any of its metric-contract alarms is in ALARM."
      severity        = "critical"
      alarm_rule      = null
      alarms          = [for ck in keys(local.contract_alarms) : "${s.name}.${ck}" if contains(keys(local.service_alarms), "${s.name}.${ck}")]
      operator        = "OR"
      actions_enabled = true
    } if length([for ck in keys(local.contract_alarms) : ck if contains(keys(local.service_alarms), "${s.name}.${ck}")]) > 0
  }

  all_composites = merge(
    local.service_composites,
    { for k, c in var.composite_alarms : k => merge(c, { alarm_name = coalesce(c.alarm_name, "${var.name}-${k}") }) },
  )

  topic_arns = var.create_topics ? module.sns_alerts[0].topic_arns : var.existing_topic_arns

  severity_actions = {
    for severity, arn in local.topic_arns : severity => {
      alarm_actions             = [arn]
      ok_actions                = var.notify_on_ok ? [arn] : []
      insufficient_data_actions = []
    }
  }

  sidecar_policy_namespaces = distinct(concat(
    [for s in local.services : s.namespace],
    [var.sidecar_namespace],
    [for a in values(var.ratio_alarms) : a.namespace],
    [for a in values(var.nonzero_alarms) : a.namespace],
    local.catalog_namespaces,
    var.sidecar_policy_extra_namespaces,
  ))
}

module "sns_alerts" {
  source = "./modules/sns-alerts"
  count  = var.create_topics ? 1 : 0

  name_prefix                     = var.name
  severities                      = ["critical", "warning"]
  kms_encryption                  = var.kms_encryption
  kms_key_arn                     = var.kms_key_arn
  kms_key_deletion_window_in_days = var.kms_key_deletion_window_in_days
  subscriptions                   = var.subscriptions

  tags = var.tags
}

module "alarms" {
  source = "./modules/metric-alarms"

  name_prefix      = "${var.name}-"
  severity_actions = local.severity_actions
  alarms           = local.all_alarms
  composite_alarms = local.all_composites

  tags = var.tags
}

module "dashboard" {
  source = "./modules/dashboard"
  count  = var.dashboard_enabled ? 1 : 0

  dashboard_name = coalesce(var.dashboard_name, var.name)
  period         = var.dashboard_period

  services = [
    for s in local.services : {
      name       = s.name
      namespace  = s.namespace
      dimensions = s.dimensions
      thresholds = {
        http_5xx_rate   = try(local.service_alarms["${s.name}.http_5xx_rate"].threshold, null)
        job_failed_rate = try(local.service_alarms["${s.name}.job_failed_rate"].threshold, null)
        latency_p99_ms  = try(local.service_alarms["${s.name}.latency_p99"].threshold, null)
        queue_depth     = try(local.service_alarms["${s.name}.queue_depth"].threshold, null)
      }
    }
  ]

  # ARNs built from the names, so the dashboard body is known at plan time.
  alarm_arns = concat(
    [for k in sort(keys(local.all_alarms)) : "${local.arn_prefix}:alarm:${local.all_alarms[k].alarm_name}"],
    [for k in sort(keys(local.all_composites)) : "${local.arn_prefix}:alarm:${local.all_composites[k].alarm_name}"],
  )

  sidecar = {
    enabled    = true
    namespace  = var.sidecar_namespace
    dimensions = var.sidecar_dimensions
  }

  catalog_rows = local.catalog_rows
}

module "sidecar_iam" {
  source = "./modules/sidecar-iam"
  count  = var.create_sidecar_policy ? 1 : 0

  name        = "${var.name}-sidecar-put-metric-data"
  namespaces  = local.sidecar_policy_namespaces
  role_names  = var.sidecar_policy_role_names
  description = "Lets cw-sidecar (${var.name}) publish metrics to ${join(", ", local.sidecar_policy_namespaces)} only."

  tags = var.tags
}
