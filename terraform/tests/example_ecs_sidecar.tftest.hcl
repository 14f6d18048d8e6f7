# examples/ecs-sidecar at plan time, with the mocked provider: the sidecar's container is
# configured for environment dimensions (the task family, detected from the ECS metadata
# endpoint) and a memory ceiling equal to its memoryReservation, and the alarms watch the
# dimensions it publishes with.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

override_data {
  target = module.alerting.module.sns_alerts[0].data.aws_iam_policy_document.kms
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.alerting.module.sns_alerts[0].data.aws_iam_policy_document.topic
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = module.alerting.module.sidecar_iam[0].data.aws_iam_policy_document.this
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.ecs_tasks_assume
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

run "ecs_sidecar_environment_and_memory" {
  command = plan

  module {
    source = "./examples/ecs-sidecar"
  }

  variables {
    service_name       = "orders"
    environment        = "staging"
    sidecar_memory_mib = 192
  }

  assert {
    condition     = aws_ecs_task_definition.this.family == "orders-staging"
    error_message = "The task family is <service>-<environment>."
  }

  assert {
    condition = (
      [for c in jsondecode(aws_ecs_task_definition.this.container_definitions) : c.memoryReservation if c.name == "cw-sidecar"] == [192] &&
      [for c in jsondecode(aws_ecs_task_definition.this.container_definitions) : { for e in c.environment : e.name => e.value } if c.name == "cw-sidecar"][0]["CW_SIDECAR_MAX_MEMORY"] == "192MiB"
    )
    error_message = "The sidecar's max_memory must equal its container's memoryReservation (192 MiB)."
  }

  assert {
    condition = (
      [for c in jsondecode(aws_ecs_task_definition.this.container_definitions) : { for e in c.environment : e.name => e.value } if c.name == "cw-sidecar"][0]["CW_SIDECAR_ENVIRONMENT__DETECT"] == "ecs" &&
      [for c in jsondecode(aws_ecs_task_definition.this.container_definitions) : { for e in c.environment : e.name => e.value } if c.name == "cw-sidecar"][0]["CW_SIDECAR_ENVIRONMENT__DIMENSIONS"] == "TaskFamily=ecs.task_family" &&
      [for c in jsondecode(aws_ecs_task_definition.this.container_definitions) : { for e in c.environment : e.name => e.value } if c.name == "cw-sidecar"][0]["CW_SIDECAR_DEFAULT_DIMENSIONS"] == "Environment=staging"
    )
    error_message = "The sidecar detects ECS and maps only TaskFamily to ecs.task_family; its default dimensions stay Environment."
  }

  assert {
    condition = alltrue([
      for k, a in module.alerting.alarm_definitions : a.dimensions == tomap({ Environment = "staging", TaskFamily = "orders-staging", Service = "orders" })
      if startswith(k, "orders.") && a.dimensions != null
      ]) && alltrue([
      for k, a in module.alerting.alarm_definitions : a.dimensions == tomap({ Environment = "staging", TaskFamily = "orders-staging" })
      if startswith(k, "sidecar.") && a.dimensions != null
    ]) && length([for k, a in module.alerting.alarm_definitions : k if startswith(k, "orders.") && a.dimensions != null]) > 0
    error_message = "The alarms must watch the dimensions the sidecar publishes with: Environment, the detected TaskFamily (the task definition's family) and, for the service, Service."
  }
}

run "ecs_sidecar_memory_at_least_64_mib" {
  command = plan

  module {
    source = "./examples/ecs-sidecar"
  }

  variables {
    sidecar_memory_mib = 32
  }

  expect_failures = [var.sidecar_memory_mib]
}
