#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth` / `npx cdk deploy` from infra/cdk.
 *
 * SHARDWISE_SKIP_BUNDLING=1 synthesizes without building the Rust functions (cargo-lambda
 * bundling is skipped via the `aws:cdk:bundling-stacks` context, set after the CLI's so it
 * wins); the offline validation uses it. The stack is environment-agnostic unless
 * CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION are set (the CLI sets them from your credentials).
 */
import { App } from 'aws-cdk-lib';
import { ShardwiseStack } from '../lib/shardwise-stack';

const skipBundling = process.env.SHARDWISE_SKIP_BUNDLING === '1';
const app = new App(skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {});
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
new ShardwiseStack(app, 'Shardwise', {
  stackName: process.env.SHARDWISE_STACK_NAME ?? 'shardwise-dev',
  env: account && region ? { account, region } : undefined,
  analyticsReporting: false,
});
app.synth();
