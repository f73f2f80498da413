//! The conformance suite: one case per documented AWS behaviour, through the official
//! Rust SDK clients. Runs against the in-process emulator by default, or against the
//! endpoint in `SHARDWISE_TEST_ENDPOINT` (see `scripts/conformance-moto.sh`).

mod dynamodb;
mod kinesis;
mod s3;
mod server;
