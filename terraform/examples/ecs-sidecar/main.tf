# An ECS (Fargate) task running an application beside the cw-sidecar container. The
# task role carries the sidecar's least-privilege policy (PutMetricData to the service's
# namespace and the sidecar's own, nothing else), and the alerting module gets the
# same dimensions the sidecar is configured with, so alarms watch the series that exist.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  family            = "${var.service_name}-${var.environment}"
  sidecar_namespace = "CWSidecar"
  # The sidecar adds these to every record and to its own metrics (default_dimensions).
  sidecar_default_dimensions = { Environment = var.environment }
  # And these, detected at startup from the ECS task metadata endpoint ([environment]
  # detect = ["ecs"]): each dimension name the sidecar adds, mapped to the attribute it
  # takes its value from. Only what is mapped is added; every dimension multiplies the
  # series billed.
  sidecar_environment_dimensions = { TaskFamily = "ecs.task_family" }
  # What the sidecar publishes with, for the alerting module: the detected task family is
  # this task definition's family, known here.
  sidecar_dimensions = merge(local.sidecar_default_dimensions, { TaskFamily = local.family })
  # The sidecar's memory: its container's memoryReservation, and its max_memory ceiling
  # (budgets sized to fit, ingest refused above the high mark) at the same figure.
  sidecar_memory_mib = var.sidecar_memory_mib
  spool_path         = "/var/lib/cw-sidecar/spool"
  sidecar_listen     = "127.0.0.1:25889"
  # The CloudWatch agent's listeners, served by the sidecar on the same ports: StatsD and
  # DogStatsD on 8125 (UDP and TCP), EMF on 25888 (TCP and UDP), both on 127.0.0.1, which
  # the containers share under awsvpc (no portMappings: nothing outside the task reaches them).
  statsd_port = 8125
  emf_port    = 25888
}

module "alerting" {
  source = "../../"

  name = "${var.service_name}-${var.environment}"
  tags = var.tags

  # The service's contract series carry { Environment, TaskFamily, Service } (the sidecar's
  # default and detected dimensions plus the record's own), and the module's default follows
  # that.
  services = [{
    name                     = var.service_name
    namespace                = var.namespace
    latency_p99_threshold_ms = var.latency_p99_threshold_ms
  }]

  sidecar_namespace              = local.sidecar_namespace
  sidecar_dimensions             = local.sidecar_dimensions
  sidecar_flush_interval_seconds = var.sidecar_flush_interval_seconds

  subscriptions = var.alert_email == null ? {} : {
    oncall = { protocol = "email", endpoint = var.alert_email, severities = ["critical"] }
  }

  # The policy is attached to the task role below.
  sidecar_policy_role_names = { ecs_task = aws_iam_role.task.name }
}

################################################################################
# Roles
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.${data.aws_partition.current.dns_suffix}"]
    }
  }
}

# The task role: what the containers may do. Here only the sidecar's PutMetricData.
resource "aws_iam_role" "task" {
  name               = "${var.service_name}-${var.environment}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# The execution role: what ECS needs to pull images and write logs.
resource "aws_iam_role" "execution" {
  name               = "${var.service_name}-${var.environment}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

################################################################################
# Logs and task definition
################################################################################

resource "aws_cloudwatch_log_group" "task" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer-managed key is optional and left to the user.
  name              = "/ecs/${var.service_name}-${var.environment}"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc" # the containers share 127.0.0.1
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  # Task storage that outlives a restart of the sidecar's container (not the task).
  volume {
    name = "cw-sidecar-spool"
  }

  container_definitions = jsonencode([
    {
      name                   = "app"
      image                  = var.app_image
      essential              = true
      readonlyRootFilesystem = true
      # Placeholder workload: replace with your service, which POSTs its metrics to the
      # sidecar, or sends them with a StatsD/DogStatsD client or an aws-embedded-metrics logger.
      command = ["sh", "-c", "while true; do sleep 3600; done"]
      environment = [
        { name = "CW_SIDECAR_URL", value = "http://${local.sidecar_listen}" },
        # StatsD and DogStatsD clients (hot-shots, statsd, datadog, ...): host and port. Write
        # the address, not `localhost` (Node resolves it to ::1 first).
        { name = "STATSD_HOST", value = "127.0.0.1" },
        { name = "STATSD_PORT", value = tostring(local.statsd_port) },
        { name = "DD_AGENT_HOST", value = "127.0.0.1" },
        { name = "DD_DOGSTATSD_PORT", value = tostring(local.statsd_port) },
        # aws-embedded-metrics (Python, Node, Java): send EMF to the sidecar's listener.
        { name = "AWS_EMF_AGENT_ENDPOINT", value = "tcp://127.0.0.1:${local.emf_port}" },
        { name = "AWS_EMF_ENVIRONMENT", value = "Agent" },
        { name = "AWS_EMF_SERVICE_NAME", value = var.service_name },
        { name = "AWS_EMF_NAMESPACE", value = var.namespace },
      ]
      # Start sending only once the sidecar answers its health check.
      dependsOn = [{ containerName = "cw-sidecar", condition = "HEALTHY" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "app"
        }
      }
    },
    {
      name                   = "cw-sidecar"
      image                  = var.sidecar_image
      essential              = true
      readonlyRootFilesystem = true
      cpu                    = 128
      memoryReservation      = local.sidecar_memory_mib
      environment = [
        { name = "CW_SIDECAR_LISTEN", value = local.sidecar_listen },
        { name = "CW_SIDECAR_NAMESPACE", value = var.namespace },
        { name = "CW_SIDECAR_DEFAULT_DIMENSIONS", value = join(",", [for k, v in local.sidecar_default_dimensions : "${k}=${v}"]) },
        # [environment]: detect = ["ecs"], dimensions = { TaskFamily = "ecs.task_family" }.
        { name = "CW_SIDECAR_ENVIRONMENT__DETECT", value = "ecs" },
        { name = "CW_SIDECAR_ENVIRONMENT__DIMENSIONS", value = join(",", [for k, v in local.sidecar_environment_dimensions : "${k}=${v}"]) },
        # The ceiling at the container's memoryReservation.
        { name = "CW_SIDECAR_MAX_MEMORY", value = "${local.sidecar_memory_mib}MiB" },
        { name = "CW_SIDECAR_FLUSH_INTERVAL", value = "${var.sidecar_flush_interval_seconds}s" },
        { name = "CW_SIDECAR_SELF_METRICS_NAMESPACE", value = local.sidecar_namespace },
        { name = "AWS_REGION", value = data.aws_region.current.name },
        # StatsD/DogStatsD on 127.0.0.1:8125, UDP and TCP; EMF on 127.0.0.1:25888, TCP and UDP.
        { name = "CW_SIDECAR_STATSD__ENABLED", value = "true" },
        { name = "CW_SIDECAR_EMF__ENABLED", value = "true" },
        # The disk spool on the task's volume: what the sidecar acknowledged survives a crash
        # or OOM kill of its container, which the restart policy below restarts in the task.
        { name = "CW_SIDECAR_SPOOL__DIR", value = local.spool_path },
        { name = "CW_SIDECAR_SPOOL__MAX_BYTES", value = "1GiB" },
      ]
      mountPoints   = [{ sourceVolume = "cw-sidecar-spool", containerPath = local.spool_path, readOnly = false }]
      restartPolicy = { enabled = true, restartAttemptPeriod = 60 }
      healthCheck = {
        command     = ["CMD", "cw-sidecar", "healthcheck"]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 10
      }
      # Time to publish what it buffered when the task stops (SIGTERM, then this long).
      stopTimeout = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "cw-sidecar"
        }
      }
    },
  ])
}
