/**
 * The stack's parameters and conditions: the same names, types, defaults and constraints as
 * the Parameters and Conditions sections of infra/template.yaml, so one set of `--parameters`
 * works with either tool.
 */
import { CfnCondition, CfnParameter, Fn, Stack } from 'aws-cdk-lib';

export interface StackParameters {
  readonly stage: CfnParameter;
  readonly shardCount: CfnParameter;
  readonly parallelizationFactor: CfnParameter;
  readonly stateBackend: CfnParameter;
  readonly streamRetentionHours: CfnParameter;
  readonly fraudScoreThreshold: CfnParameter;
  readonly fraudVelocityLimit: CfnParameter;
  readonly fraudHighAmountMinor: CfnParameter;
  readonly allowedLatenessSeconds: CfnParameter;
  readonly sessionTimeoutSeconds: CfnParameter;
  readonly commitGroup: CfnParameter;
  readonly reconcileSchedule: CfnParameter;
  readonly rawArchiveRetentionDays: CfnParameter;
  readonly logRetentionDays: CfnParameter;
  readonly logLevel: CfnParameter;
}

const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/**
 * The template's Conditions. `usesShardLog`: fraud-detector, session-tracker and daily-totals'
 * first-seen gate on the shard-log state backend (their object grants, the timer-dispatcher's
 * on session-tracker's objects, ParallelizationFactor 1, daily-totals' product buckets, and
 * session-tracker's timers-table grant depend on it).
 */
export interface StackConditions {
  readonly usesShardLog: CfnCondition;
}

export function declareConditions(stack: Stack, p: StackParameters): StackConditions {
  return {
    usesShardLog: new CfnCondition(stack, 'UsesShardLog', {
      expression: Fn.conditionEquals(p.stateBackend.valueAsString, 'shard_log'),
    }),
  };
}

export function declareParameters(stack: Stack): StackParameters {
  const num = (id: string, defaultValue: number, description: string, min?: number, max?: number) =>
    new CfnParameter(stack, id, { type: 'Number', default: defaultValue, minValue: min, maxValue: max, description });
  return {
    stage: new CfnParameter(stack, 'Stage', {
      type: 'String',
      default: 'dev',
      allowedValues: ['dev', 'staging', 'prod'],
      description: 'Deployment stage; part of every physical name so stages can share an account.',
    }),
    shardCount: num('ShardCount', 2, 'Shards of the transactions stream (1 MB/s or 1000 records/s of ingest each).', 1, 64),
    parallelizationFactor: num('ParallelizationFactor', 1,
      'Concurrent batches per shard for fraud-detector and session-tracker on the dynamodb state backend, and the archiver (per-key order is kept). daily-totals always uses 1, and so do the functions on the shard log.', 1, 10),
    stateBackend: new CfnParameter(stack, 'StateBackend', {
      type: 'String',
      default: 'shard_log',
      allowedValues: ['dynamodb', 'shard_log'],
      description: "Where fraud-detector and session-tracker keep their keyed state (their state keys are the account, the partition key, or begin with it) and whether daily-totals drops producer re-sends with a per-account first-seen gate - shard_log (per shard in the warm function, one S3 object and one checkpoint write per batch; their ParallelizationFactor is then 1; daily-totals gets the gate and 16 product buckets) or dynamodb (one conditional write per key per batch; daily-totals keeps per-key recent-ids lists). daily-totals' merchant, product and day totals are in dynamodb either way.",
    }),
    streamRetentionHours: num('StreamRetentionHours', 24,
      'Kinesis retention; bounds how far back a replay or backfill can re-read.', 24, 8760),
    fraudScoreThreshold: num('FraudScoreThreshold', 0.7,
      'Weighted fraud score at or above which fraud-detector raises an alert.', 0, 1),
    fraudVelocityLimit: num('FraudVelocityLimit', 5,
      'Transactions per account per minute above which the velocity rule fires.', 1),
    fraudHighAmountMinor: num('FraudHighAmountMinor', 200000,
      'Amount in minor units (cents) above which the high-amount rule fires.', 1),
    allowedLatenessSeconds: num('AllowedLatenessSeconds', 300,
      'Event-time lateness daily-totals accepts before sending an event to late events.', 0),
    sessionTimeoutSeconds: num('SessionTimeoutSeconds', 120, 'Device-session inactivity timeout of session-tracker.', 30),
    commitGroup: num('CommitGroup', 100,
      "Actions per grouped TransactWriteItems of the stream functions' key commits that are transactions anyway (no extra write units; 0 turns grouping off).", 0, 100),
    reconcileSchedule: new CfnParameter(stack, 'ReconcileSchedule', {
      type: 'String',
      default: 'cron(15 2 * * ? *)',
      description: 'When the nightly reconciler runs (EventBridge schedule expression, UTC).',
    }),
    rawArchiveRetentionDays: num('RawArchiveRetentionDays', 400,
      'Days raw/ objects are kept (moved to STANDARD_IA at 30 and GLACIER_IR at 90 days).', 91),
    logRetentionDays: new CfnParameter(stack, 'LogRetentionDays', {
      type: 'Number',
      // A string like AllowedValues (the CDK types them as strings): cfn-lint E2015 otherwise.
      default: '30',
      allowedValues: LOG_RETENTION_DAYS.map(String),
      description: "CloudWatch Logs retention of every function's log group.",
    }),
    logLevel: new CfnParameter(stack, 'LogLevel', {
      type: 'String',
      default: 'info',
      allowedValues: ['error', 'warn', 'info', 'debug', 'trace'],
      description: 'RUST_LOG of every function.',
    }),
  };
}
