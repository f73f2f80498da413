/**
 * aws-cdk-lib assertions on the synthesized stack, run by `node --test` with ts-node
 * (`npm test`). Bundling is skipped (context `aws:cdk:bundling-stacks: []`), so no Rust build or
 * cargo-lambda is needed. Cross-tool parity with the SAM template is infra/tests/test_parity.py.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FUNCTION_SPECS } from '../lib/functions';
import { ShardwiseStack } from '../lib/shardwise-stack';

const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new ShardwiseStack(app, 'Shardwise', { analyticsReporting: false });
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;

const ENVIRONMENT = [
  'STAGE', 'RUST_LOG', 'TRANSACTIONS_STREAM', 'ALERTS_STREAM', 'STATE_TABLE', 'TIMERS_TABLE', 'ALERTS_TABLE',
  'OUTPUTS_TABLE', 'DEAD_LETTER_TABLE', 'LATE_EVENTS_TABLE', 'ARCHIVE_BUCKET', 'FRAUD_SCORE_THRESHOLD',
  'FRAUD_VELOCITY_LIMIT', 'FRAUD_HIGH_AMOUNT_MINOR', 'ALLOWED_LATENESS_SECONDS', 'SESSION_TIMEOUT_SECONDS',
  'SHARDWISE_COMMIT_GROUP',
];

test('every function is an arm64 provided.al2023 bootstrap with JSON logs in its own log group', () => {
  template.resourceCountIs('AWS::Lambda::Function', FUNCTION_SPECS.length);
  template.allResourcesProperties('AWS::Lambda::Function', {
    Runtime: 'provided.al2023',
    Architectures: ['arm64'],
    Handler: 'bootstrap',
    LoggingConfig: { LogFormat: 'JSON', LogGroup: Match.anyValue() },
  });
  for (const spec of FUNCTION_SPECS) {
    const fn = resources[`${spec.prefix}Function`];
    assert.ok(fn, `${spec.prefix}Function exists`);
    assert.deepEqual(fn.Properties.LoggingConfig.LogGroup, { Ref: `${spec.prefix}LogGroup` });
    assert.deepEqual(fn.Properties.FunctionName, { 'Fn::Sub': `shardwise-\${Stage}-${spec.name}` });
  }
});

/**
 * The state backend's variables: on the operators whose state key is the partition key or
 * begins with it (fraud-detector: the account; session-tracker: `<account>#<device>`;
 * daily-totals' first-seen gate, daily-totals-ids: the account), and on the timer-dispatcher,
 * which fires session-tracker's timers through its shard log.
 */
const STATE_BACKEND_ENVIRONMENT = ['SHARDWISE_STATE_BACKEND', 'SHARDWISE_STATE_BUCKET'];
/** Function -> the operator whose shard-log objects its role reaches. */
const SHARD_LOG_OPERATOR: Record<string, string> = {
  'fraud-detector': 'fraud-detector',
  'daily-totals': 'daily-totals-ids',
  'session-tracker': 'session-tracker',
  'timer-dispatcher': 'session-tracker',
};
const SHARD_LOG_ROLES: Record<string, string> = {
  FraudDetectorRole: 'fraud-detector',
  DailyTotalsRole: 'daily-totals-ids',
  SessionTrackerRole: 'session-tracker',
  TimerDispatcherRole: 'session-tracker',
};
/** daily-totals' own variables: product and merchant buckets only with its first-seen gate. */
const DAILY_TOTALS_BUCKETS: Record<string, string> = {
  DAILY_TOTALS_PRODUCT_BUCKETS: '16',
  DAILY_TOTALS_MERCHANT_BUCKETS: '32',
};
const DAILY_TOTALS_ENVIRONMENT = Object.keys(DAILY_TOTALS_BUCKETS);
const onShardLog = (parallelizationFactor: unknown) => ({ 'Fn::If': ['UsesShardLog', 1, parallelizationFactor] });

test('every function receives the whole environment contract', () => {
  for (const spec of FUNCTION_SPECS) {
    const variables = resources[`${spec.prefix}Function`].Properties.Environment.Variables;
    const expected = spec.name in SHARD_LOG_OPERATOR ? [...ENVIRONMENT, ...STATE_BACKEND_ENVIRONMENT] : [...ENVIRONMENT];
    if (spec.name === 'daily-totals') expected.push(...DAILY_TOTALS_ENVIRONMENT);
    assert.deepEqual(Object.keys(variables).sort(), [...expected].sort(), spec.name);
  }
});

test('the four stream functions consume transactions with partial-batch failure handling', () => {
  const mapping = (parallelizationFactor: unknown) => ({
    EventSourceArn: { 'Fn::GetAtt': ['TransactionsStream', 'Arn'] },
    StartingPosition: 'TRIM_HORIZON',
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    BisectBatchOnFunctionError: true,
    MaximumRetryAttempts: Match.anyValue(),
    MaximumRecordAgeInSeconds: Match.anyValue(),
    ParallelizationFactor: parallelizationFactor,
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['EsmFailureBucket', 'Arn'] } } },
  });
  template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', mapping({ Ref: 'ParallelizationFactor' }), 1);
  template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping',
    mapping(onShardLog({ Ref: 'ParallelizationFactor' })), 2);
  // daily-totals: 1 on either backend.
  template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', mapping(1), 1);
  template.resourceCountIs('AWS::Lambda::EventSourceMapping', 4);
});

test('fraud-detector, daily-totals, session-tracker and the timer-dispatcher are wired for the shard log, each grant under its prefix', () => {
  template.hasParameter('StateBackend', { Type: 'String', Default: 'shard_log', AllowedValues: ['dynamodb', 'shard_log'] });
  template.hasCondition('UsesShardLog', { 'Fn::Equals': [{ Ref: 'StateBackend' }, 'shard_log'] });
  for (const prefix of ['FraudDetector', 'DailyTotals', 'SessionTracker', 'TimerDispatcher']) {
    const variables = resources[`${prefix}Function`].Properties.Environment.Variables;
    assert.deepEqual(variables.SHARDWISE_STATE_BACKEND, { Ref: 'StateBackend' }, prefix);
    assert.deepEqual(variables.SHARDWISE_STATE_BUCKET, { Ref: 'OperatorStateBucket' }, prefix);
  }
  for (const prefix of ['FraudDetector', 'SessionTracker']) {
    assert.deepEqual(resources[`${prefix}FunctionTransactions`].Properties.ParallelizationFactor,
      onShardLog({ Ref: 'ParallelizationFactor' }), prefix);
  }
  assert.equal(resources.DailyTotalsFunctionTransactions.Properties.ParallelizationFactor, 1);

  // Every statement naming the state bucket: only in the three roles, each under the
  // condition, objects only under shardwise-state/<its operator>/.
  const mentions = (value: unknown) => JSON.stringify(value).includes('OperatorStateBucket');
  const conditional: Record<string, any[]> = {};
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    for (const statement of resource.Properties.Policies[0].PolicyDocument.Statement) {
      if (!mentions(statement)) continue;
      assert.ok(id in SHARD_LOG_ROLES, `${id} reaches the state bucket`);
      assert.deepEqual(Object.keys(statement), ['Fn::If'], 'granted only under a condition');
      const [condition, granted, otherwise] = statement['Fn::If'];
      assert.equal(condition, 'UsesShardLog');
      assert.deepEqual(otherwise, { Ref: 'AWS::NoValue' });
      (conditional[id] ??= []).push(granted);
    }
  }
  assert.deepEqual(Object.keys(conditional).sort(), Object.keys(SHARD_LOG_ROLES).sort());
  for (const [role, operator] of Object.entries(SHARD_LOG_ROLES)) {
    const objects = conditional[role].find((s) => s.Sid === 'ShardLogObjects');
    assert.deepEqual(objects.Action, ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], role);
    assert.deepEqual(objects.Resource, {
      'Fn::Join': ['', [{ 'Fn::GetAtt': ['OperatorStateBucket', 'Arn'] }, `/shardwise-state/${operator}/*`]],
    }, role);
    const list = conditional[role].find((s) => s.Sid === 'ShardLogMissingObjects');
    assert.deepEqual([list.Action, list.Resource], ['s3:ListBucket', { 'Fn::GetAtt': ['OperatorStateBucket', 'Arn'] }], role);
    assert.equal(conditional[role].length, 2, role);
  }
});

test('daily-totals hashes products and merchants into buckets only with its first-seen gate (the shard log)', () => {
  const variables = resources.DailyTotalsFunction.Properties.Environment.Variables;
  for (const [name, buckets] of Object.entries(DAILY_TOTALS_BUCKETS)) {
    assert.deepEqual(variables[name], { 'Fn::If': ['UsesShardLog', buckets, '0'] }, name);
    for (const spec of FUNCTION_SPECS.filter((f) => f.name !== 'daily-totals')) {
      const others = resources[`${spec.prefix}Function`].Properties.Environment.Variables;
      assert.equal(others[name], undefined, `${spec.name} ${name}`);
    }
  }
});

test('session-tracker registers timers in the timers table only off the shard log', () => {
  const statements = resources.SessionTrackerRole.Properties.Policies[0].PolicyDocument.Statement;
  const timers = statements.filter((s: any) => JSON.stringify(s).includes('TimersTable'));
  assert.equal(timers.length, 1);
  const [condition, granted, otherwise] = timers[0]['Fn::If'];
  assert.equal(condition, 'UsesShardLog');
  assert.deepEqual(granted, { Ref: 'AWS::NoValue' });
  assert.equal(otherwise.Sid, 'RegisterProcessingTimeTimers');
  assert.deepEqual(otherwise.Action, ['dynamodb:PutItem', 'dynamodb:DeleteItem']);
});

test('operator state objects never expire', () => {
  const rules = resources.OperatorStateBucket.Properties.LifecycleConfiguration?.Rules ?? [];
  for (const rule of rules) {
    assert.equal(rule.ExpirationInDays, undefined);
    assert.equal(rule.Transitions, undefined);
  }
  assert.equal(resources.OperatorStateBucket.Properties.VersioningConfiguration, undefined);
});

test('schedules run the timer dispatcher every minute and the reconciler on its parameter', () => {
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(1 minute)',
    Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': ['TimerDispatcherFunction', 'Arn'] } })],
  });
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: { Ref: 'ReconcileSchedule' },
    Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': ['ReconcilerFunction', 'Arn'] } })],
  });
  template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com' }, 2);
});

test('streams are KMS-encrypted with the AWS managed key', () => {
  template.resourcePropertiesCountIs('AWS::Kinesis::Stream', {
    StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
  }, 2);
});

test('tables are on-demand, point-in-time recoverable, encrypted, TTL on ttl, and retained', () => {
  template.resourceCountIs('AWS::DynamoDB::Table', 6);
  template.allResourcesProperties('AWS::DynamoDB::Table', {
    BillingMode: 'PAY_PER_REQUEST',
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    SSESpecification: { SSEEnabled: true },
    TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
  });
  template.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  template.allResourcesProperties('AWS::DynamoDB::Table', {
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  });
});

test('buckets block public access, encrypt, and deny plain HTTP', () => {
  template.resourceCountIs('AWS::S3::Bucket', 3);
  template.allResourcesProperties('AWS::S3::Bucket', {
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    },
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    },
  });
  template.resourcePropertiesCountIs('AWS::S3::BucketPolicy', {
    PolicyDocument: {
      Statement: Match.arrayWith([Match.objectLike({
        Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      })]),
    },
  }, 3);
});

test('roles carry only inline policies: no managed policies, no wildcard actions, no * resources', () => {
  template.resourceCountIs('AWS::IAM::Role', FUNCTION_SPECS.length);
  template.resourceCountIs('AWS::IAM::Policy', 0);
  template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    for (const policy of resource.Properties.Policies) {
      for (const statement of policy.PolicyDocument.Statement) {
        // A conditional statement is checked as its granted branch (the one that is not NoValue).
        const granted = statement['Fn::If']
          ? statement['Fn::If'].slice(1).find((b: any) => b?.Ref !== 'AWS::NoValue')
          : statement;
        for (const action of [granted.Action].flat()) assert.ok(!action.includes('*'), `${id}: ${action}`);
        for (const r of [granted.Resource].flat()) assert.notEqual(r, '*', `${id}: Resource *`);
      }
    }
  }
});

test('query-api has an IAM-authenticated function URL', () => {
  template.resourceCountIs('AWS::Lambda::Url', 1);
  template.hasResourceProperties('AWS::Lambda::Url', {
    AuthType: 'AWS_IAM',
    TargetFunctionArn: { 'Fn::GetAtt': ['QueryApiFunction', 'Arn'] },
  });
});
