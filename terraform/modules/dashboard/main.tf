data "aws_region" "current" {}

locals {
  region = coalesce(var.region, data.aws_region.current.name)

  # Grid: 24 columns. A service takes a header line and a row of four 6×6 graphs.
  widget_width  = 6
  widget_height = 6
  row_height    = 1 + local.widget_height

  alarm_chunks       = chunklist(var.alarm_arns, 100)
  alarm_widget_h     = [for c in local.alarm_chunks : min(2 + ceil(length(c) / 4), 12)]
  alarm_block_height = sum(concat([0], local.alarm_widget_h))

  # The metric array of a widget: [namespace, metric, dim1, value1, ..., {options}].
  services = [
    for s in var.services : merge(s, {
      dims = flatten([
        for k in sort(keys(coalesce(s.dimensions, { Service = s.name }))) : [k, coalesce(s.dimensions, { Service = s.name })[k]]
      ])
      dims_text = join(", ", [for k, v in coalesce(s.dimensions, { Service = s.name }) : "${k}=${v}"])
    })
  ]

  sidecar_dims = flatten([for k in sort(keys(var.sidecar.dimensions)) : [k, var.sidecar.dimensions[k]]])

  alarm_widgets = [
    for i, chunk in local.alarm_chunks : {
      type   = "alarm"
      x      = 0
      y      = sum(concat([0], slice(local.alarm_widget_h, 0, i)))
      width  = 24
      height = local.alarm_widget_h[i]
      properties = {
        title  = length(local.alarm_chunks) == 1 ? "Alarms" : "Alarms (${i + 1}/${length(local.alarm_chunks)})"
        alarms = chunk
        sortBy = "stateUpdatedTimestamp"
        states = []
      }
    }
  ]

  service_widgets = flatten([
    for i, s in local.services : [
      {
        type   = "text"
        x      = 0
        y      = local.alarm_block_height + i * local.row_height
        width  = 24
        height = 1
        properties = {
          markdown   = "## ${s.name} · namespace `${s.namespace}` · dimensions `${s.dims_text}`"
          background = "transparent"
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = local.alarm_block_height + i * local.row_height + 1
        width  = local.widget_width
        height = local.widget_height
        properties = {
          title   = "${s.name}: traffic"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          metrics = [
            concat([s.namespace, s.metrics.request_count], s.dims, [{ stat = "Sum", label = "requests" }]),
          ]
          yAxis = { left = { min = 0, label = "requests / period", showUnits = false } }
        }
      },
      {
        type   = "metric"
        x      = local.widget_width
        y      = local.alarm_block_height + i * local.row_height + 1
        width  = local.widget_width
        height = local.widget_height
        properties = {
          title   = "${s.name}: errors and error rate"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          # Http5xx and JobFailed are 0/1 per request or job: Sum counts errors, Average is the rate.
          metrics = [
            concat([s.namespace, s.metrics.http_5xx], s.dims, [{ stat = "Sum", label = "5xx responses" }]),
            concat([s.namespace, s.metrics.http_5xx], s.dims, [{ stat = "Average", label = "5xx rate", yAxis = "right" }]),
            concat([s.namespace, s.metrics.job_failed], s.dims, [{ stat = "Average", label = "job failure rate", yAxis = "right" }]),
          ]
          yAxis = {
            left  = { min = 0, label = "errors / period", showUnits = false }
            right = { min = 0, max = 1, label = "rate", showUnits = false }
          }
          annotations = {
            horizontal = concat(
              s.thresholds.http_5xx_rate == null ? [] : [{ label = "5xx rate alarm", value = s.thresholds.http_5xx_rate, yAxis = "right" }],
              s.thresholds.job_failed_rate == null ? [] : [{ label = "job failure alarm", value = s.thresholds.job_failed_rate, yAxis = "right" }],
            )
          }
        }
      },
      {
        type   = "metric"
        x      = 2 * local.widget_width
        y      = local.alarm_block_height + i * local.row_height + 1
        width  = local.widget_width
        height = local.widget_height
        properties = {
          title   = "${s.name}: latency"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          metrics = [
            for p in ["p50", "p90", "p99"] : concat([s.namespace, s.metrics.latency], s.dims, [{ stat = p, label = p }])
          ]
          yAxis = { left = { min = 0, label = "ms", showUnits = false } }
          annotations = {
            horizontal = s.thresholds.latency_p99_ms == null ? [] : [{ label = "p99 alarm", value = s.thresholds.latency_p99_ms }]
          }
        }
      },
      {
        type   = "metric"
        x      = 3 * local.widget_width
        y      = local.alarm_block_height + i * local.row_height + 1
        width  = local.widget_width
        height = local.widget_height
        properties = {
          title   = "${s.name}: saturation (queue depth)"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          metrics = [
            concat([s.namespace, s.metrics.queue_depth], s.dims, [{ stat = "Maximum", label = "max" }]),
            concat([s.namespace, s.metrics.queue_depth], s.dims, [{ stat = "Average", label = "average" }]),
          ]
          yAxis = { left = { min = 0, label = "items", showUnits = false } }
          annotations = {
            horizontal = s.thresholds.queue_depth == null ? [] : [{ label = "queue depth alarm", value = s.thresholds.queue_depth }]
          }
        }
      },
    ]
  ])

  sidecar_y = local.alarm_block_height + length(local.services) * local.row_height
  sidecar_widgets = [for w in [
    {
      type   = "text"
      x      = 0
      y      = local.sidecar_y
      width  = 24
      height = 1
      properties = {
        markdown   = "## cw-sidecar health · namespace `${var.sidecar.namespace}` · dimensions `${length(var.sidecar.dimensions) == 0 ? "(none)" : join(", ", [for k, v in var.sidecar.dimensions : "${k}=${v}"])}`"
        background = "transparent"
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = local.sidecar_y + 1
      width  = local.widget_width
      height = local.widget_height
      properties = {
        title   = "sidecar: heartbeat (flushes)"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = var.period
        metrics = [concat([var.sidecar.namespace, "Heartbeat"], local.sidecar_dims, [{ stat = "SampleCount", label = "flushes" }])]
        yAxis   = { left = { min = 0, showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = local.widget_width
      y      = local.sidecar_y + 1
      width  = local.widget_width
      height = local.widget_height
      properties = {
        title   = "sidecar: records"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = var.period
        metrics = [
          for m in ["RecordsAccepted", "RecordsRejected"] : concat([var.sidecar.namespace, m], local.sidecar_dims, [{ stat = "Sum", label = m }])
        ]
        yAxis = { left = { min = 0, showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = 2 * local.widget_width
      y      = local.sidecar_y + 1
      width  = local.widget_width
      height = local.widget_height
      properties = {
        title   = "sidecar: publishing"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = var.period
        metrics = [
          for m in ["DatumsPublished", "DatumsDropped", "PublishFailures", "ThrottledRequests"] : concat([var.sidecar.namespace, m], local.sidecar_dims, [{ stat = "Sum", label = m }])
        ]
        yAxis = { left = { min = 0, showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = 3 * local.widget_width
      y      = local.sidecar_y + 1
      width  = local.widget_width
      height = local.widget_height
      properties = {
        title   = "sidecar: buffered datums"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = var.period
        metrics = [concat([var.sidecar.namespace, "BufferedDatums"], local.sidecar_dims, [{ stat = "Maximum", label = "BufferedDatums" }])]
        yAxis   = { left = { min = 0, showUnits = false } }
      }
    },
  ] : w if var.sidecar.enabled]

  # The catalog's rows, below the sidecar's: a header line, then the row's widgets side by side.
  catalog_y = local.sidecar_y + (var.sidecar.enabled ? local.row_height : 0)
  catalog_widgets = flatten([
    for i, row in var.catalog_rows : concat(
      [{
        type       = "text"
        x          = 0
        y          = local.catalog_y + i * local.row_height
        width      = 24
        height     = 1
        properties = { markdown = "## ${row.title}", background = "transparent" }
      }],
      [
        for j, w in row.widgets : {
          type   = "metric"
          x      = j * max(4, floor(24 / length(row.widgets)))
          y      = local.catalog_y + i * local.row_height + 1
          width  = max(4, floor(24 / length(row.widgets)))
          height = local.widget_height
          properties = {
            title   = w.title
            region  = local.region
            view    = "timeSeries"
            stacked = false
            period  = coalesce(w.period, var.period)
            metrics = [
              for m in w.metrics : concat(
                [m.namespace, m.metric],
                flatten([for k in sort(keys(m.dimensions)) : [k, m.dimensions[k]]]),
                [{ stat = m.statistic, label = coalesce(m.label, "${m.metric} ${m.statistic}") }],
              )
            ]
            yAxis = { left = { min = 0, showUnits = false } }
          }
        }
      ],
    )
  ])

  dashboard_body = jsonencode({
    start          = var.time_range_start
    periodOverride = "inherit"
    widgets        = concat(local.alarm_widgets, local.service_widgets, local.sidecar_widgets, local.catalog_widgets)
  })
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.dashboard_name
  dashboard_body = local.dashboard_body
}
