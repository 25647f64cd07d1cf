terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function arrived in 5.29, aws_scheduler_schedule in 4.60;
      # 6.x changed nothing this module uses.
      version = ">= 5.40, < 7.0"
    }
  }
}
