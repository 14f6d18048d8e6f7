output "topic_arns" {
  description = "Topic ARNs by severity."
  value       = { for severity, t in aws_sns_topic.this : severity => t.arn }
}

output "topic_names" {
  description = "Topic names by severity."
  value       = { for severity, t in aws_sns_topic.this : severity => t.name }
}

output "severity_actions" {
  description = "Actions by severity, in the shape the metric-alarms module takes (alarm and OK notifications go to the severity's topic)."
  value = {
    for severity, t in aws_sns_topic.this : severity => {
      alarm_actions             = [t.arn]
      ok_actions                = [t.arn]
      insufficient_data_actions = []
    }
  }
}

output "subscription_arns" {
  description = "Subscription ARNs by \"<subscription key>.<severity>\"."
  value       = { for k, s in aws_sns_topic_subscription.this : k => s.arn }
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the topics (created or given), or null."
  value       = local.kms_key_id
}

output "kms_key_alias" {
  description = "Alias of the created KMS key, or null."
  value       = try(aws_kms_alias.this[0].name, null)
}
