################################################################################
# Notifications
################################################################################

output "topic_arns" {
  description = "Alert topic ARNs by severity (critical, warning): created, or existing_topic_arns."
  value       = local.topic_arns
}

output "topic_names" {
  description = "Names of the created topics by severity (empty when create_topics = false)."
  value       = var.create_topics ? module.sns_alerts[0].topic_names : {}
}

output "subscription_arns" {
  description = "Subscription ARNs by \"<subscription key>.<severity>\"."
  value       = var.create_topics ? module.sns_alerts[0].subscription_arns : {}
}

output "kms_key_arn" {
  description = "KMS key encrypting the topics, or null."
  value       = var.create_topics ? module.sns_alerts[0].kms_key_arn : null
}

################################################################################
# Alarms
################################################################################

output "alarm_names" {
  description = "Every metric alarm's name by key: \"<service>.<contract alarm>\", \"sidecar.<alarm>\", \"ratio.<key>\", \"nonzero.<key>\" and the extra_alarms keys."
  value       = module.alarms.alarm_names
}

output "alarm_arns" {
  description = "Every metric alarm's ARN by key."
  value       = module.alarms.alarm_arns
}

output "service_alarm_names" {
  description = "Contract alarm names by service, then by contract alarm (http_5xx_rate, latency_p99, job_failed_rate, queue_depth)."
  value = {
    for s in local.services : s.name => {
      for ck in keys(local.contract_alarms) : ck => local.service_alarms["${s.name}.${ck}"].alarm_name if contains(keys(local.service_alarms), "${s.name}.${ck}")
    }
  }
}

output "sidecar_alarm_names" {
  description = "The sidecar's alarm names by alarm (heartbeat, datums_dropped, publish_failures, active_series, heartbeat_replicas)."
  value       = { for k, a in local.sidecar_alarms : trimprefix(k, "sidecar.") => a.alarm_name }
}

output "ratio_alarm_names" {
  description = "Ratio alarm names (ratio_alarms) by key."
  value       = { for k, a in local.ratio_alarms : trimprefix(k, "ratio.") => a.alarm_name }
}

output "nonzero_alarm_names" {
  description = "\"Greater than zero\" alarm names (nonzero_alarms) by key."
  value       = { for k, a in local.nonzero_alarms : trimprefix(k, "nonzero.") => a.alarm_name }
}

output "composite_alarm_names" {
  description = "Composite alarm names by key (\"<service>.health\" and the composite_alarms keys)."
  value       = module.alarms.composite_alarm_names
}

output "alarm_definitions" {
  description = "Each metric alarm as declared to CloudWatch, by key (\"<service>.<contract alarm>\", \"sidecar.<alarm>\", extra_alarms keys): name, ARN, namespace, metric, exact dimensions, statistic or extended statistic, threshold, comparison, period, evaluation periods, datapoints, missing-data treatment, actions, metric queries, plus severity and high_resolution. Tests compare it with what CloudWatch reports."
  value = {
    for k, a in module.alarms.alarms : k => merge(a, {
      severity        = local.all_alarms[k].severity
      high_resolution = local.all_alarms[k].high_resolution
    })
  }
}

output "composite_alarms" {
  description = "Composite alarms by key: name, ARN, rule and actions."
  value       = module.alarms.composite_alarms
}

################################################################################
# Dashboard
################################################################################

output "dashboard_name" {
  description = "Name of the dashboard, or null."
  value       = var.dashboard_enabled ? module.dashboard[0].dashboard_name : null
}

output "dashboard_arn" {
  description = "ARN of the dashboard, or null."
  value       = var.dashboard_enabled ? module.dashboard[0].dashboard_arn : null
}

output "dashboard_url" {
  description = "Console URL of the dashboard, or null."
  value       = var.dashboard_enabled ? module.dashboard[0].dashboard_url : null
}

output "dashboard_body" {
  description = "The dashboard JSON, or null."
  value       = var.dashboard_enabled ? module.dashboard[0].dashboard_body : null
}

################################################################################
# Sidecar IAM policy
################################################################################

output "sidecar_policy_arn" {
  description = "ARN of the sidecar's IAM policy (cloudwatch:PutMetricData to its namespaces only), or null."
  value       = var.create_sidecar_policy ? module.sidecar_iam[0].policy_arn : null
}

output "sidecar_policy_json" {
  description = "The sidecar's policy document, or null."
  value       = var.create_sidecar_policy ? module.sidecar_iam[0].policy_json : null
}

output "sidecar_policy_namespaces" {
  description = "The namespaces the sidecar's policy allows."
  value       = local.sidecar_policy_namespaces
}
