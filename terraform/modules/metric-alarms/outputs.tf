output "alarm_names" {
  description = "Metric alarm names by key."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }
}

output "alarm_arns" {
  description = "Metric alarm ARNs by key."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.arn }
}

output "composite_alarm_names" {
  description = "Composite alarm names by key."
  value       = { for k, a in aws_cloudwatch_composite_alarm.this : k => a.alarm_name }
}

output "composite_alarm_arns" {
  description = "Composite alarm ARNs by key."
  value       = { for k, a in aws_cloudwatch_composite_alarm.this : k => a.arn }
}

output "all_alarm_arns" {
  description = "ARNs of every alarm, metric and composite (for an alarm-status widget)."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.this : a.arn],
    [for a in aws_cloudwatch_composite_alarm.this : a.arn],
  )
}

# The provider reports unset string arguments as "", normalised to null here.
output "alarms" {
  description = "Each metric alarm as declared to CloudWatch, by key: name, ARN, metric, exact dimensions, statistic, threshold, comparison, period, evaluation periods, datapoints, missing-data treatment, actions and metric queries."
  value = {
    for k, a in aws_cloudwatch_metric_alarm.this : k => {
      alarm_name                = a.alarm_name
      arn                       = a.arn
      namespace                 = a.namespace == "" ? null : a.namespace
      metric_name               = a.metric_name == "" ? null : a.metric_name
      dimensions                = a.dimensions == null ? tomap({}) : a.dimensions
      statistic                 = a.statistic == "" ? null : a.statistic
      extended_statistic        = a.extended_statistic == "" ? null : a.extended_statistic
      comparison_operator       = a.comparison_operator
      threshold                 = a.threshold
      period                    = a.period
      evaluation_periods        = a.evaluation_periods
      datapoints_to_alarm       = a.datapoints_to_alarm
      treat_missing_data        = a.treat_missing_data
      actions_enabled           = a.actions_enabled
      alarm_actions             = a.alarm_actions
      ok_actions                = a.ok_actions
      insufficient_data_actions = a.insufficient_data_actions
      metric_queries = [
        for q in a.metric_query : {
          id          = q.id
          expression  = q.expression
          label       = q.label
          return_data = q.return_data
          metric = length(q.metric) == 0 ? null : {
            namespace   = q.metric[0].namespace
            metric_name = q.metric[0].metric_name
            dimensions  = q.metric[0].dimensions
            stat        = q.metric[0].stat
            period      = q.metric[0].period
          }
        }
      ]
    }
  }
}

output "composite_alarms" {
  description = "Each composite alarm by key: name, ARN, rule and actions."
  value = {
    for k, a in aws_cloudwatch_composite_alarm.this : k => {
      alarm_name    = a.alarm_name
      arn           = a.arn
      alarm_rule    = a.alarm_rule
      alarm_actions = a.alarm_actions
      ok_actions    = a.ok_actions
    }
  }
}
