################################################################################
# HTTP API: POST /api/v1/write -> write function, everything else -> query function.
################################################################################

locals {
  http_routes = {
    write = "POST /api/v1/write"
    query = "$default"
  }
  route_authorization_type = {
    bearer = "CUSTOM"
    jwt    = "JWT"
    none   = "NONE"
  }[var.auth]
  # The one authorizer of var.auth, or null with auth = "none".
  route_authorizer_id = one(concat(
    aws_apigatewayv2_authorizer.bearer[*].id,
    aws_apigatewayv2_authorizer.jwt[*].id,
  ))
}

resource "aws_apigatewayv2_api" "this" {
  name          = "${var.name}-http-api"
  description   = "Strata: Prometheus HTTP API and remote write"
  protocol_type = "HTTP"

  tags = var.tags

  # Checks of variables that depend on each other (variable validations may only refer to
  # their own variable before Terraform 1.9). This resource refers to neither the bucket nor
  # the token, so its checks are evaluated even when those are unusable.
  lifecycle {
    precondition {
      condition     = var.create_bucket || var.bucket_name != null
      error_message = "With create_bucket = false, bucket_name must name the existing bucket."
    }
    precondition {
      condition     = var.auth != "bearer" || var.bearer_token != null
      error_message = "auth = \"bearer\" needs bearer_token (or choose auth = \"jwt\", or explicitly \"none\")."
    }
    precondition {
      condition     = var.auth != "jwt" || (var.jwt_issuer != null && length(var.jwt_audience) > 0)
      error_message = "auth = \"jwt\" needs jwt_issuer and at least one jwt_audience."
    }
  }
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = local.http_routes

  api_id                 = aws_apigatewayv2_api.this.id
  description            = "${var.name}-${each.key} function"
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this[each.key].invoke_arn
  payload_format_version = "2.0"
  # The HTTP API's maximum; Strata's query timeout (query_timeout_seconds) stays below it.
  timeout_milliseconds = 30000
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.http_routes

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"

  authorization_type = local.route_authorization_type
  authorizer_id      = local.route_authorizer_id
}

resource "aws_apigatewayv2_authorizer" "bearer" {
  count = var.auth == "bearer" ? 1 : 0

  api_id                            = aws_apigatewayv2_api.this.id
  name                              = "${var.name}-bearer"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.this["authorizer"].invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = ["$request.header.Authorization"]
  authorizer_result_ttl_in_seconds  = var.authorizer_cache_ttl_seconds
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = var.auth == "jwt" ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      path               = "$context.path"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }

  tags = var.tags
}

################################################################################
# API Gateway may invoke the HTTP functions and the authorizer.
################################################################################

resource "aws_lambda_permission" "api" {
  for_each = local.http_routes

  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

resource "aws_lambda_permission" "authorizer" {
  count = var.auth == "bearer" ? 1 : 0

  statement_id  = "AllowHttpApiAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["authorizer"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.bearer[0].id}"
}
