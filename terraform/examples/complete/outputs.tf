output "topic_arns" {
  description = "Alert topic ARNs by severity."
  value       = module.alerting.topic_arns
}

output "kms_key_arn" {
  description = "KMS key encrypting the topics."
  value       = module.alerting.kms_key_arn
}

output "alert_queue_url" {
  description = "URL of the SQS queue subscribed to both topics."
  value       = aws_sqs_queue.alerts.url
}

output "alert_queue_arn" {
  description = "ARN of the SQS queue subscribed to both topics."
  value       = aws_sqs_queue.alerts.arn
}

output "subscription_arns" {
  description = "Subscription ARNs by \"<subscription key>.<severity>\"."
  value       = module.alerting.subscription_arns
}

output "alarm_names" {
  description = "Every metric alarm's name by key."
  value       = module.alerting.alarm_names
}

output "service_alarm_names" {
  description = "Contract alarm names by service and contract alarm."
  value       = module.alerting.service_alarm_names
}

output "sidecar_alarm_names" {
  description = "The sidecar's alarm names."
  value       = module.alerting.sidecar_alarm_names
}

output "ratio_alarm_names" {
  description = "Ratio alarm names by key (chat-5xx-ratio)."
  value       = module.alerting.ratio_alarm_names
}

output "nonzero_alarm_names" {
  description = "\"Greater than zero\" alarm names by key (chat-db-errors)."
  value       = module.alerting.nonzero_alarm_names
}

output "db_errors_alarm_name" {
  description = "Name of the chat service's \"any database error\" alarm (db_errors_total Sum > 0)."
  value       = module.alerting.nonzero_alarm_names["chat-db-errors"]
}

output "http_5xx_ratio_alarm_name" {
  description = "Name of the chat service's 5xx ratio alarm (http_requests_total by status)."
  value       = module.alerting.ratio_alarm_names["chat-5xx-ratio"]
}

output "composite_alarm_names" {
  description = "Composite alarm names by key."
  value       = module.alerting.composite_alarm_names
}

output "alarm_definitions" {
  description = "Each metric alarm as declared to CloudWatch."
  value       = module.alerting.alarm_definitions
}

output "composite_alarms" {
  description = "Each composite alarm as declared."
  value       = module.alerting.composite_alarms
}

output "dashboard_name" {
  description = "Name of the dashboard."
  value       = module.alerting.dashboard_name
}

output "dashboard_body" {
  description = "The dashboard JSON."
  value       = module.alerting.dashboard_body
}

output "sidecar_policy_arn" {
  description = "ARN of the sidecar's IAM policy."
  value       = module.alerting.sidecar_policy_arn
}

output "sidecar_role_name" {
  description = "Role the sidecar policy is attached to."
  value       = aws_iam_role.sidecar.name
}

output "catalog_alarm_names" {
  description = "The metric catalog's (metrics.yaml) alarm names, by the alarm's name in the catalog."
  value       = module.alerting.catalog_alarm_names
}
