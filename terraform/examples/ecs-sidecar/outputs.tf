output "task_definition_arn" {
  description = "ARN of the task definition (app + cw-sidecar); run it with an ECS service of your own."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "The task role, carrying the sidecar's PutMetricData policy."
  value       = aws_iam_role.task.arn
}

output "sidecar_policy_arn" {
  description = "The sidecar's IAM policy."
  value       = module.alerting.sidecar_policy_arn
}

output "topic_arns" {
  description = "Alert topic ARNs by severity."
  value       = module.alerting.topic_arns
}

output "alarm_names" {
  description = "Alarm names by key."
  value       = module.alerting.alarm_names
}

output "dashboard_name" {
  description = "Name of the dashboard."
  value       = module.alerting.dashboard_name
}
