################################################################################
# EventBridge Scheduler: compaction every compact_schedule, one scrape schedule per shard.
# Scheduler delivers `input` verbatim, replacing <aws.scheduler.scheduled-time>.
################################################################################

resource "aws_scheduler_schedule_group" "this" {
  name = var.name

  tags = var.tags
}

resource "aws_scheduler_schedule" "compact" {
  #checkov:skip=CKV_AWS_297:the schedule input holds only a task name and shard numbers, nothing worth a customer-managed key
  name        = "${var.name}-compact"
  group_name  = aws_scheduler_schedule_group.this.name
  description = "Runs the due compaction jobs of ${local.store_url}"

  schedule_expression = var.compact_schedule

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["compact"].arn
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      task           = "compact"
      scheduled_time = "<aws.scheduler.scheduled-time>"
    })

    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}

resource "aws_scheduler_schedule" "scrape" {
  #checkov:skip=CKV_AWS_297:the schedule input holds only a task name and shard numbers, nothing worth a customer-managed key
  count = local.scrape_enabled ? var.scrape_shards : 0

  name        = "${var.name}-scrape-${count.index}"
  group_name  = aws_scheduler_schedule_group.this.name
  description = "Scrapes shard ${count.index} of ${var.scrape_shards} of the targets in ${local.config_url}"

  schedule_expression = var.scrape_schedule

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["scrape"].arn
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      task           = "scrape"
      shard          = count.index
      shards         = var.scrape_shards
      scheduled_time = "<aws.scheduler.scheduled-time>"
    })

    # A late scrape round is a wrong one: the next minute's round takes over.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}
