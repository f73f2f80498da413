/**
 * The eight functions: one spec per function (sizes, triggers) and the code that turns a spec
 * into a log group, a role, a cargo-lambda `RustFunction` and its triggers, each pinned to the
 * logical id SAM uses (`<Prefix>LogGroup`, `<Prefix>Role`, `<Prefix>Function`,
 * `<Prefix>Function<EventName>`, `<Prefix>FunctionUrl`).
 */
import * as path from 'path';
import { Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { pin } from './logical-ids';
import { StackConditions, StackParameters } from './parameters';
import { CONDITIONAL_STATEMENTS, ConditionalPolicyDocument, STATEMENTS, writeOwnLogs } from './permissions';
import { Storage } from './storage';

/** The workspace manifest: every function is a member crate whose package = binary = name. */
export const WORKSPACE_MANIFEST = path.join(__dirname, '..', '..', '..', 'Cargo.toml');

interface StreamTrigger {
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly maxRetryAttempts: number;
  readonly maxRecordAgeSeconds: number;
  /** Default: the ParallelizationFactor parameter. */
  readonly parallelizationFactor?: (p: StackParameters, c: StackConditions) => number;
}

interface ScheduleTrigger {
  readonly eventName: string;
  readonly description: string;
  readonly expression: (p: StackParameters) => string;
}

export interface FunctionSpec {
  readonly name: string;
  readonly prefix: string;
  readonly description: string;
  readonly memorySize?: number;
  readonly timeoutSeconds?: number;
  readonly stream?: StreamTrigger;
  readonly schedule?: ScheduleTrigger;
  readonly functionUrl?: boolean;
  /** Variables on top of the shared environment contract. */
  readonly environment?: (p: StackParameters, s: Storage, c: StackConditions) => Record<string, string>;
}

/**
 * The shard log needs one batch per shard at a time: two concurrent batches of a shard would
 * keep losing the checkpoint race to each other.
 */
const oneBatchPerShardOnTheShardLog = (p: StackParameters, c: StackConditions) =>
  Token.asNumber(Fn.conditionIf(c.usesShardLog.logicalId, 1, p.parallelizationFactor.valueAsNumber));

/** The state backend's variables (the `StateBackend` parameter and the operator-state bucket). */
const stateBackend = (p: StackParameters, s: Storage) => ({
  SHARDWISE_STATE_BACKEND: p.stateBackend.valueAsString,
  SHARDWISE_STATE_BUCKET: s.operatorStateBucket.bucketName,
});

export const FUNCTION_SPECS: FunctionSpec[] = [
  {
    name: 'fraud-detector', prefix: 'FraudDetector', memorySize: 512,
    description: 'Per-account fraud rules and score; alerts exactly once to the alerts table and stream.',
    stream: {
      batchSize: 10000, maxBatchingWindowSeconds: 0, maxRetryAttempts: 10, maxRecordAgeSeconds: 21600,
      parallelizationFactor: oneBatchPerShardOnTheShardLog,
    },
    // Its state key (account id) is the partition key, as the shard-log backend requires.
    environment: stateBackend,
  },
  {
    name: 'daily-totals', prefix: 'DailyTotals', memorySize: 512,
    description: 'Event-time daily windows per merchant and product, late side output.',
    stream: {
      batchSize: 10000, maxBatchingWindowSeconds: 1, maxRetryAttempts: 10, maxRecordAgeSeconds: 86400,
      // Always 1: its merchant/product/day keys are not partition keys, so concurrent batches
      // of a shard could update one key out of order and lose revenue
      // (functions/daily-totals/src/lib.rs); its first-seen gate is on the shard log too.
      parallelizationFactor: () => 1,
    },
    environment: (p, s, c) => ({
      // On the shard log a first-seen gate (operator daily-totals-ids) drops producer re-sends
      // per account, where they are partitioned (a re-send has the same account, so the same
      // shard), before the merchant/product/day processors; on dynamodb, per-key recent ids.
      ...stateBackend(p, s),
      // Products hashed into 16 state keys (product keys were ~0.27 UpdateItem per event);
      // only with the gate: a bucket key's recent-ids list would overflow its cap.
      DAILY_TOTALS_PRODUCT_BUCKETS: Fn.conditionIf(c.usesShardLog.logicalId, '16', '0').toString(),
      // Merchants hashed into 32 state keys, each keeping its merchants' totals and account
      // sketches (one UpdateItem per merchant was 0.11 per event); ~80 busy merchants fit a
      // bucket's state budget, so 32 hold ~2,500.
      DAILY_TOTALS_MERCHANT_BUCKETS: Fn.conditionIf(c.usesShardLog.logicalId, '32', '0').toString(),
    }),
  },
  {
    name: 'session-tracker', prefix: 'SessionTracker',
    description: 'Device sessions with processing-time heartbeats and an inactivity timeout.',
    stream: {
      batchSize: 10000, maxBatchingWindowSeconds: 1, maxRetryAttempts: 10, maxRecordAgeSeconds: 21600,
      parallelizationFactor: oneBatchPerShardOnTheShardLog,
    },
    // Its state key `<account>#<device>` begins with the partition key (the account) and `#`,
    // so each key still lives in one shard, as the shard log requires.
    environment: stateBackend,
  },
  {
    name: 'archiver', prefix: 'Archiver', memorySize: 512,
    description: 'Raw records to S3 raw/dt=YYYY-MM-DD/shard=.../ under deterministic keys.',
    // The archive feeds reconciliation: retry longer than the others before giving up.
    stream: { batchSize: 5000, maxBatchingWindowSeconds: 10, maxRetryAttempts: 100, maxRecordAgeSeconds: 86400 },
  },
  {
    name: 'timer-dispatcher', prefix: 'TimerDispatcher', timeoutSeconds: 70,
    description: 'Fires due timers exactly once (keeps firing inside the minute for sub-minute precision).',
    schedule: { eventName: 'EveryMinute', description: 'Fire due timers', expression: () => 'rate(1 minute)' },
    // The backend of the operators it fires that can use it: session-tracker. daily-totals'
    // keys are merchants, not partition keys, so it always uses the timers table.
    environment: stateBackend,
  },
  {
    name: 'reconciler', prefix: 'Reconciler', memorySize: 2048, timeoutSeconds: 900,
    description: "Nightly batch totals from raw/, compared to the stream layer to the cent; reports/.",
    schedule: { eventName: 'Nightly', description: 'Reconcile yesterday', expression: (p) => p.reconcileSchedule.valueAsString },
  },
  {
    name: 'query-api', prefix: 'QueryApi', timeoutSeconds: 10, functionUrl: true,
    description: "A day's totals from the reconciled report when there is one, else the stream layer.",
  },
  {
    name: 'load-generator', prefix: 'LoadGenerator', memorySize: 1024, timeoutSeconds: 900,
    description: 'Seeded realistic traffic with injected fraud; invoked directly.',
  },
];

/** The environment contract (infra/README.md): every function gets every name. */
function environment(p: StackParameters, s: Storage): Record<string, string> {
  return {
    STAGE: p.stage.valueAsString,
    RUST_LOG: p.logLevel.valueAsString,
    TRANSACTIONS_STREAM: s.transactionsStream.streamName,
    ALERTS_STREAM: s.alertsStream.streamName,
    STATE_TABLE: s.stateTable.tableName,
    TIMERS_TABLE: s.timersTable.tableName,
    ALERTS_TABLE: s.alertsTable.tableName,
    OUTPUTS_TABLE: s.outputsTable.tableName,
    DEAD_LETTER_TABLE: s.deadLetterTable.tableName,
    LATE_EVENTS_TABLE: s.lateEventsTable.tableName,
    ARCHIVE_BUCKET: s.archiveBucket.bucketName,
    FRAUD_SCORE_THRESHOLD: p.fraudScoreThreshold.valueAsString,
    FRAUD_VELOCITY_LIMIT: p.fraudVelocityLimit.valueAsString,
    FRAUD_HIGH_AMOUNT_MINOR: p.fraudHighAmountMinor.valueAsString,
    ALLOWED_LATENESS_SECONDS: p.allowedLatenessSeconds.valueAsString,
    SESSION_TIMEOUT_SECONDS: p.sessionTimeoutSeconds.valueAsString,
    SHARDWISE_COMMIT_GROUP: p.commitGroup.valueAsString,
  };
}

export function declareFunction(
  stack: Stack, spec: FunctionSpec, p: StackParameters, c: StackConditions, s: Storage,
): RustFunction {
  const physicalName = Fn.sub(`shardwise-\${Stage}-${spec.name}`);
  const logGroup = pin(
    new logs.LogGroup(stack, `${spec.prefix}LogGroup`, {
      logGroupName: Fn.sub(`/aws/lambda/shardwise-\${Stage}-${spec.name}`),
      retention: p.logRetentionDays.valueAsNumber as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
    `${spec.prefix}LogGroup`,
  );
  const role = pin(
    new iam.Role(stack, `${spec.prefix}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: {
        [spec.name]: new ConditionalPolicyDocument(
          { statements: [writeOwnLogs(logGroup), ...STATEMENTS[spec.name](s)] },
          CONDITIONAL_STATEMENTS[spec.name]?.(s, c) ?? [],
        ),
      },
    }),
    `${spec.prefix}Role`,
  );
  const fn = pin(
    new RustFunction(stack, `${spec.prefix}Function`, {
      functionName: physicalName,
      description: spec.description,
      manifestPath: WORKSPACE_MANIFEST,
      binaryName: spec.name,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memorySize ?? 256,
      timeout: Duration.seconds(spec.timeoutSeconds ?? 60),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...environment(p, s), ...spec.environment?.(p, s, c) },
    }),
    `${spec.prefix}Function`,
  );

  if (spec.stream) {
    // L1 on purpose: the L2 event source would grant its own (broader) read policy and, for an
    // S3 failure destination, read-write on the whole bucket.
    new lambda.CfnEventSourceMapping(stack, `${spec.prefix}FunctionTransactions`, {
      functionName: fn.functionName,
      eventSourceArn: s.transactionsStream.streamArn,
      startingPosition: 'TRIM_HORIZON',
      batchSize: spec.stream.batchSize,
      maximumBatchingWindowInSeconds: spec.stream.maxBatchingWindowSeconds,
      parallelizationFactor: spec.stream.parallelizationFactor?.(p, c) ?? p.parallelizationFactor.valueAsNumber,
      functionResponseTypes: ['ReportBatchItemFailures'],
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: spec.stream.maxRetryAttempts,
      maximumRecordAgeInSeconds: spec.stream.maxRecordAgeSeconds,
      destinationConfig: { onFailure: { destination: s.esmFailureBucket.bucketArn } },
    });
  }
  if (spec.schedule) {
    const ruleId = `${spec.prefix}Function${spec.schedule.eventName}`;
    const rule = pin(
      new events.Rule(stack, ruleId, {
        schedule: events.Schedule.expression(spec.schedule.expression(p)),
        description: spec.schedule.description,
        targets: [new targets.LambdaFunction(fn)],
      }),
      ruleId,
    );
    // The target adds the events.amazonaws.com invoke permission as a child of the rule.
    const permission = rule.node.children.find((c) => c instanceof lambda.CfnPermission);
    if (!permission) {
      throw new Error(`${spec.name}: the schedule target did not add an invoke permission`);
    }
    pin(permission, `${ruleId}Permission`);
  }
  if (spec.functionUrl) {
    // SigV4-signed callers only: a bank's totals are not public.
    pin(fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM }), `${spec.prefix}FunctionUrl`);
  }
  return fn;
}
