output "policy_arn" {
  description = "ARN of the IAM policy."
  value       = aws_iam_policy.this.arn
}

output "policy_name" {
  description = "Name of the IAM policy."
  value       = aws_iam_policy.this.name
}

output "policy_json" {
  description = "The policy document, to embed elsewhere (for example an inline policy)."
  value       = data.aws_iam_policy_document.this.json
}

output "namespaces" {
  description = "The namespaces the policy allows."
  value       = distinct(var.namespaces)
}
