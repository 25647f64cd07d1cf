//! End-to-end tests against a real S3-compatible server (moto, started by the harness; set
//! `STRATA_TEST_S3_ENDPOINT` to use another server). One binary for all of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up step fails the test

mod admin;
mod api;
mod cli;
mod compact;
mod conditional;
mod faulty;
mod infra;
mod kubernetes;
mod lambda;
mod manifest;
mod rules;
mod s3;
mod scrape;
mod web;
