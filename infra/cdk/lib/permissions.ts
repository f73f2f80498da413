/**
 * Least-privilege policy statements per function, statement for statement the same as the
 * roles in infra/template.yaml (same Sids). No grant* helpers: they add actions the functions
 * do not use (e.g. grantReadWriteData adds Scan and BatchWriteItem), and event-source helpers
 * attach a second policy; the reviewed list lives in infra/tests/test_least_privilege.py.
 */
import { Aws, CfnCondition, Fn, IResolveContext } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { StackConditions } from './parameters';
import { ALERTS_BY_DAY_INDEX, Storage } from './storage';

const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
  new iam.PolicyStatement({ sid, effect: iam.Effect.ALLOW, actions, resources, conditions });

/**
 * The streams use the AWS managed key alias/aws/kinesis, whose key id the template cannot name:
 * `key/*` in this account and region, usable only through Kinesis (kms:ViaService).
 */
const KMS_KEYS = 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*';
const viaKinesis = () => ({ StringEquals: { 'kms:ViaService': Fn.sub('kinesis.${AWS::Region}.amazonaws.com') } });

const STATE_RW = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem'];
/** What the Lambda Kinesis poller needs (Lambda developer guide, "services-kinesis-create"). */
const KINESIS_CONSUME = ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetRecords',
  'kinesis:GetShardIterator', 'kinesis:ListShards'];

export function writeOwnLogs(logGroup: logs.LogGroup): iam.PolicyStatement {
  return allow('WriteOwnLogs', ['logs:CreateLogStream', 'logs:PutLogEvents'], [logGroup.logGroupArn]);
}

/** Reading the transactions stream through an event source mapping, with its failure destination. */
function consumeTransactions(s: Storage): iam.PolicyStatement[] {
  return [
    allow('ReadTransactionsStream', KINESIS_CONSUME, [s.transactionsStream.streamArn]),
    allow('DecryptStreamRecords', ['kms:Decrypt'], [Fn.sub(KMS_KEYS)], viaKinesis()),
  ];
}
function recordFailedBatches(s: Storage): iam.PolicyStatement[] {
  return [
    allow('RecordFailedBatches', ['s3:PutObject'], [s.esmFailureBucket.arnForObjects('*')]),
    allow('LocateFailureBucket', ['s3:ListBucket'], [s.esmFailureBucket.bucketArn]),
  ];
}
const deadLetters = (s: Storage) => allow('WriteDeadLetters', ['dynamodb:PutItem'], [s.deadLetterTable.tableArn]);
const keyedState = (s: Storage) => allow('KeyedState', STATE_RW, [s.stateTable.tableArn]);
const alertsByDay = () => Fn.sub(`\${AlertsTable.Arn}/index/${ALERTS_BY_DAY_INDEX}`);

/** Function name -> its statements (besides WriteOwnLogs). */
export const STATEMENTS: Record<string, (s: Storage) => iam.PolicyStatement[]> = {
  'fraud-detector': (s) => [
    ...consumeTransactions(s),
    allow('PublishAlerts', ['kinesis:PutRecord', 'kinesis:PutRecords'], [s.alertsStream.streamArn]),
    allow('EncryptAlertRecords', ['kms:GenerateDataKey'], [Fn.sub(KMS_KEYS)], viaKinesis()),
    keyedState(s),
    allow('WriteAlertsOnce', ['dynamodb:PutItem'], [s.alertsTable.tableArn]),
    deadLetters(s),
    ...recordFailedBatches(s),
  ],
  'daily-totals': (s) => [
    ...consumeTransactions(s),
    keyedState(s),
    allow('RegisterEventTimeTimers', ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [s.timersTable.tableArn]),
    allow('WriteAggregates', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [s.outputsTable.tableArn]),
    allow('WriteLateEvents', ['dynamodb:PutItem'], [s.lateEventsTable.tableArn]),
    deadLetters(s),
    ...recordFailedBatches(s),
  ],
  'session-tracker': (s) => [
    ...consumeTransactions(s),
    keyedState(s),
    // RegisterProcessingTimeTimers: conditional (dynamodb backend only), see CONDITIONAL_STATEMENTS.
    allow('WriteSessionSummaries', ['dynamodb:PutItem'], [s.outputsTable.tableArn]),
    allow('WriteLateEvents', ['dynamodb:PutItem'], [s.lateEventsTable.tableArn]),
    deadLetters(s),
    ...recordFailedBatches(s),
  ],
  archiver: (s) => [
    ...consumeTransactions(s),
    allow('WriteRawArchive', ['s3:PutObject'], [s.archiveBucket.arnForObjects('raw/*')]),
    deadLetters(s),
    ...recordFailedBatches(s),
  ],
  'timer-dispatcher': (s) => [
    allow('FireDueTimers', ['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'],
      [s.timersTable.tableArn]),
    allow('ApplyTimerCallbacks', STATE_RW, [s.stateTable.tableArn]),
    allow('WriteTimerOutputs', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [s.outputsTable.tableArn]),
    deadLetters(s),
  ],
  reconciler: (s) => [
    allow('ListArchiveDay', ['s3:ListBucket'], [s.archiveBucket.bucketArn],
      { StringLike: { 's3:prefix': ['raw/*', 'reports/*'] } }),
    allow('ReadRawArchive', ['s3:GetObject'], [s.archiveBucket.arnForObjects('raw/*')]),
    allow('WriteReports', ['s3:PutObject'], [s.archiveBucket.arnForObjects('reports/*')]),
    allow('ReadStreamTotals', ['dynamodb:GetItem', 'dynamodb:Query'], [s.outputsTable.tableArn]),
    allow('ReadLateEvents', ['dynamodb:Query'], [s.lateEventsTable.tableArn]),
    allow('ReadDayAlerts', ['dynamodb:Query'], [alertsByDay()]),
    allow('ReadDeadLetters', ['dynamodb:Query'], [s.deadLetterTable.tableArn]),
  ],
  'query-api': (s) => [
    allow('ListReports', ['s3:ListBucket'], [s.archiveBucket.bucketArn], { StringLike: { 's3:prefix': ['reports/*'] } }),
    allow('ReadReports', ['s3:GetObject'], [s.archiveBucket.arnForObjects('reports/*')]),
    allow('ReadStreamTotals', ['dynamodb:GetItem', 'dynamodb:Query'], [s.outputsTable.tableArn]),
    allow('ReadDayAlerts', ['dynamodb:Query'], [alertsByDay()]),
  ],
  'load-generator': (s) => [
    allow('ProduceTransactions', ['kinesis:PutRecords', 'kinesis:PutRecord', 'kinesis:DescribeStreamSummary'],
      [s.transactionsStream.streamArn]),
    allow('EncryptTransactionRecords', ['kms:GenerateDataKey'], [Fn.sub(KMS_KEYS)], viaKinesis()),
    allow('WriteGroundTruth', ['s3:PutObject'], [s.archiveBucket.arnForObjects('ground-truth/*')]),
  ],
};

/** Statements granted only while a template condition holds (or, `unless`, while it does not). */
export interface ConditionalStatements {
  readonly condition: CfnCondition;
  readonly statements: iam.PolicyStatement[];
  /** Granted when the condition is false: `Fn::If [condition, NoValue, statement]`. */
  readonly unless?: boolean;
}

/**
 * Where an operator's shard-log objects live: shardwise::config::DEFAULT_STATE_PREFIX (no
 * function sets SHARDWISE_STATE_PREFIX) + the operator's name + `/` (shard_log/backend.rs).
 */
export const stateObjects = (operator: string) => `shardwise-state/${operator}/*`;

/**
 * The shard-log backend's grants for `operator`'s objects: checkpoint and registry items are in
 * the state table (within the role's state-table grant); objects are Get/Put/Deleted under the
 * operator's prefix, never listed.
 */
function shardLog(s: Storage, c: StackConditions, operator: string): ConditionalStatements[] {
  return [
    { condition: c.usesShardLog, statements: [
      allow('ShardLogObjects', ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        [s.operatorStateBucket.arnForObjects(stateObjects(operator))]),
    ] },
    // ListBucket only so that S3 answers a GetObject of a missing (retired) object with 404
    // NoSuchKey, which the backend retries from the newer checkpoint, not 403 (fatal).
    { condition: c.usesShardLog, statements: [
      allow('ShardLogMissingObjects', ['s3:ListBucket'], [s.operatorStateBucket.bucketArn]),
    ] },
  ];
}

/** Function name -> statements that depend on a condition (after the unconditional ones). */
export const CONDITIONAL_STATEMENTS: Record<string, (s: Storage, c: StackConditions) => ConditionalStatements[]> = {
  'fraud-detector': (s, c) => shardLog(s, c, 'fraud-detector'),
  // Its first-seen gate's objects only (operator daily-totals-ids); the totals stay in DynamoDB.
  'daily-totals': (s, c) => shardLog(s, c, 'daily-totals-ids'),
  'session-tracker': (s, c) => [
    // On the shard log a shard's timers live in its checkpoint and log objects: the timers
    // table only on the dynamodb backend.
    { condition: c.usesShardLog, unless: true, statements: [
      allow('RegisterProcessingTimeTimers', ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [s.timersTable.tableArn]),
    ] },
    ...shardLog(s, c, 'session-tracker'),
  ],
  // Fires session-tracker's timers of idle shards through its shard log (restore, fire, one
  // log object and the checkpoint); daily-totals' timers stay in the timers table.
  'timer-dispatcher': (s, c) => shardLog(s, c, 'session-tracker'),
};

/**
 * A policy document whose statement list ends with `Fn::If [condition, statement, NoValue]`
 * entries, as the SAM template writes them: a PolicyStatement cannot be conditional itself,
 * and a separate conditional AWS::IAM::Policy would attach after the function exists.
 */
export class ConditionalPolicyDocument extends iam.PolicyDocument {
  constructor(props: iam.PolicyDocumentProps, private readonly conditional: ConditionalStatements[]) {
    super(props);
  }

  resolve(context: IResolveContext): any {
    const rendered = super.resolve(context);
    const extra = this.conditional.flatMap(({ condition, statements, unless }) =>
      statements.map((st) => unless
        ? Fn.conditionIf(condition.logicalId, Aws.NO_VALUE, st.toStatementJson())
        : Fn.conditionIf(condition.logicalId, st.toStatementJson(), Aws.NO_VALUE)));
    return { ...rendered, Statement: [...rendered.Statement, ...extra] };
  }
}
