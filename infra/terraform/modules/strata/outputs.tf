output "query_url" {
  description = "Base URL of the Prometheus HTTP API (a Grafana Prometheus data source URL; queries under /api/v1/...)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "remote_write_url" {
  description = "Prometheus remote_write URL."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/api/v1/write"
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "bucket" {
  description = "Name of the bucket holding the store."
  value       = local.bucket
}

output "store_url" {
  description = "Strata's store URL (STRATA_STORE; `strata --store <url>` works on it from anywhere with S3 access)."
  value       = local.store_url
}

output "scrape_config_url" {
  description = "Object URL of the uploaded scrape configuration (STRATA_CONFIG), or null without scrape_config."
  value       = local.scrape_enabled ? local.config_url : null
}

output "function_names" {
  description = "Function name per role (query, write, compact, and scrape and authorizer when enabled)."
  value       = { for role, f in aws_lambda_function.this : role => f.function_name }
}

output "function_arns" {
  description = "Function ARN per role."
  value       = { for role, f in aws_lambda_function.this : role => f.arn }
}

output "query_function_name" {
  description = "Name of the query function."
  value       = aws_lambda_function.this["query"].function_name
}

output "write_function_name" {
  description = "Name of the remote-write function."
  value       = aws_lambda_function.this["write"].function_name
}

output "compact_function_name" {
  description = "Name of the compaction function."
  value       = aws_lambda_function.this["compact"].function_name
}

output "scrape_function_name" {
  description = "Name of the scrape function, or null without scrape_config."
  value       = local.scrape_enabled ? aws_lambda_function.this["scrape"].function_name : null
}

output "authorizer_function_name" {
  description = "Name of the bearer-token authorizer function, or null unless auth = \"bearer\"."
  value       = var.auth == "bearer" ? aws_lambda_function.this["authorizer"].function_name : null
}

output "log_group_names" {
  description = "CloudWatch log group per function role, and \"api\" for the HTTP API's access logs."
  value = merge(
    { for role, g in aws_cloudwatch_log_group.function : role => g.name },
    { api = aws_cloudwatch_log_group.api.name },
  )
}

output "role_arns" {
  description = "IAM execution role ARN per function role."
  value       = { for role, r in aws_iam_role.function : role => r.arn }
}

output "schedule_group" {
  description = "EventBridge Scheduler group of the compaction and scrape schedules."
  value       = aws_scheduler_schedule_group.this.name
}
