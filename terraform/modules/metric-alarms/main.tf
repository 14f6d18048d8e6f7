locals {
  no_actions = { alarm_actions = [], ok_actions = [], insufficient_data_actions = [] }

  alarms = {
    for key, a in var.alarms : key => merge(a, {
      alarm_name          = a.alarm_name != null ? a.alarm_name : "${var.name_prefix}${key}"
      datapoints_to_alarm = coalesce(a.datapoints_to_alarm, a.evaluation_periods)
      is_math             = length(a.metric_queries) > 0
      actions             = a.severity == null ? local.no_actions : var.severity_actions[a.severity]
      # A description that says what the alarm watches, unless one is given.
      description = coalesce(a.description, format(
        "%s %s %s %v for %d of %d periods of %ds%s",
        length(a.metric_queries) > 0 ? "metric math" : "${a.namespace} ${a.metric_name}",
        coalesce(a.statistic, a.extended_statistic, "expression"),
        a.comparison_operator,
        a.threshold,
        coalesce(a.datapoints_to_alarm, a.evaluation_periods),
        a.evaluation_periods,
        a.period,
        a.severity == null ? "" : " (${a.severity})",
      ))
    })
  }

  composite_alarms = {
    for key, c in var.composite_alarms : key => merge(c, {
      alarm_name = c.alarm_name != null ? c.alarm_name : "${var.name_prefix}${key}"
      actions    = c.severity == null ? local.no_actions : var.severity_actions[c.severity]
    })
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = each.value.alarm_name
  alarm_description   = each.value.description
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  treat_missing_data  = each.value.treat_missing_data

  # Single-metric form (statistic or extended statistic).
  namespace          = each.value.is_math ? null : each.value.namespace
  metric_name        = each.value.is_math ? null : each.value.metric_name
  dimensions         = each.value.is_math || length(each.value.dimensions) == 0 ? null : each.value.dimensions
  period             = each.value.is_math ? null : each.value.period
  statistic          = each.value.statistic
  extended_statistic = each.value.extended_statistic
  unit               = each.value.is_math ? null : each.value.unit

  # Metric-math form: every metric uses the alarm's period.
  dynamic "metric_query" {
    for_each = each.value.metric_queries
    content {
      id          = metric_query.value.id
      expression  = metric_query.value.expression
      label       = metric_query.value.label
      return_data = metric_query.value.return_data

      dynamic "metric" {
        for_each = metric_query.value.metric == null ? [] : [metric_query.value.metric]
        content {
          namespace   = metric.value.namespace
          metric_name = metric.value.metric_name
          dimensions  = length(metric.value.dimensions) == 0 ? null : metric.value.dimensions
          period      = each.value.period
          stat        = metric.value.stat
          unit        = metric.value.unit
        }
      }
    }
  }

  actions_enabled           = each.value.actions_enabled
  alarm_actions             = each.value.actions.alarm_actions
  ok_actions                = each.value.actions.ok_actions
  insufficient_data_actions = each.value.actions.insufficient_data_actions

  tags = var.tags
}

resource "aws_cloudwatch_composite_alarm" "this" {
  for_each = local.composite_alarms

  alarm_name        = each.value.alarm_name
  alarm_description = each.value.description
  alarm_rule = each.value.alarm_rule != null ? each.value.alarm_rule : join(
    " ${each.value.operator} ",
    [for k in each.value.alarms : "ALARM(\"${aws_cloudwatch_metric_alarm.this[k].alarm_name}\")"],
  )

  actions_enabled           = each.value.actions_enabled
  alarm_actions             = each.value.actions.alarm_actions
  ok_actions                = each.value.actions.ok_actions
  insufficient_data_actions = each.value.actions.insufficient_data_actions

  tags = var.tags

  # A hand-written alarm_rule names alarms by name only; create them first.
  depends_on = [aws_cloudwatch_metric_alarm.this]
}
