variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "service_name" {
  description = "Name of the service: the ECS task family, the Service dimension and the prefix of resource names."
  type        = string
  default     = "orders"
}

variable "namespace" {
  description = "CloudWatch namespace the service publishes its metric contract to."
  type        = string
  default     = "Shop"
}

variable "environment" {
  description = "Deployment environment; becomes the sidecar's Environment default dimension, so it is on every series."
  type        = string
  default     = "production"
}

variable "app_image" {
  description = "Image of the application container. It sends its metrics to the sidecar at http://127.0.0.1:25889, or with StatsD to 127.0.0.1:8125 and EMF to tcp://127.0.0.1:25888 (same task, awsvpc network)."
  type        = string
  default     = "public.ecr.aws/docker/library/busybox:stable"
}

variable "sidecar_image" {
  description = "Image of the cw-sidecar container (build the repository's image and push it to your registry, e.g. ECR)."
  type        = string
  default     = "cw-sidecar:latest"
}

variable "sidecar_flush_interval_seconds" {
  description = "How often the sidecar publishes closed windows (its flush interval), in seconds."
  type        = number
  default     = 60
}

variable "latency_p99_threshold_ms" {
  description = "The service's p99 latency alarm threshold in milliseconds."
  type        = number
  default     = 500
}

variable "alert_email" {
  description = "Email address for critical alerts (confirm the subscription from the email). Null: none."
  type        = string
  default     = null
}

variable "task_cpu" {
  description = "CPU units of the task (Fargate sizes)."
  type        = number
  default     = 512
}

variable "task_memory" {
  description = "Memory of the task in MiB (Fargate sizes)."
  type        = number
  default     = 1024
}

variable "log_retention_days" {
  description = "Retention of the containers' logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { Project = "cw-sidecar", Example = "ecs-sidecar" }
}

variable "sidecar_memory_mib" {
  description = "Memory of the sidecar's container in MiB: its memoryReservation and its max_memory (CW_SIDECAR_MAX_MEMORY), the ceiling its budgets are sized to."
  type        = number
  default     = 128

  validation {
    condition     = var.sidecar_memory_mib >= 64 && var.sidecar_memory_mib == floor(var.sidecar_memory_mib)
    error_message = "sidecar_memory_mib: a whole number of MiB, at least 64."
  }
}
