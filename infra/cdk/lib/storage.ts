/**
 * The stack's data: Kinesis streams, DynamoDB tables and S3 buckets, mirroring the "streams",
 * "tables" and "buckets" sections of infra/template.yaml (see that file for why each exists).
 * Data resources are retained on stack deletion, like the SAM template's DeletionPolicy.
 */
import { Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { pin } from './logical-ids';
import { StackParameters } from './parameters';

export interface Storage {
  readonly transactionsStream: kinesis.Stream;
  readonly alertsStream: kinesis.Stream;
  readonly stateTable: dynamodb.Table;
  readonly timersTable: dynamodb.Table;
  readonly alertsTable: dynamodb.Table;
  readonly outputsTable: dynamodb.Table;
  readonly deadLetterTable: dynamodb.Table;
  readonly lateEventsTable: dynamodb.Table;
  readonly archiveBucket: s3.Bucket;
  readonly esmFailureBucket: s3.Bucket;
  readonly operatorStateBucket: s3.Bucket;
}

/** The GSI on the alerts table that lists a day's alerts without a scan. */
export const ALERTS_BY_DAY_INDEX = 'by-day';

function stream(stack: Stack, id: string, suffix: string, shardCount: number, retentionHours: number): kinesis.Stream {
  return pin(
    new kinesis.Stream(stack, id, {
      streamName: Fn.sub(`shardwise-\${Stage}-${suffix}`),
      shardCount,
      retentionPeriod: Duration.hours(retentionHours),
      streamMode: kinesis.StreamMode.PROVISIONED,
      encryption: kinesis.StreamEncryption.MANAGED,
      // Like the SAM template: stream data is transient (the archive keeps the raw records).
      removalPolicy: RemovalPolicy.DESTROY,
    }),
    id,
  );
}

function table(stack: Stack, id: string, suffix: string, hash: string, range?: string): dynamodb.Table {
  return pin(
    new dynamodb.Table(stack, id, {
      tableName: Fn.sub(`shardwise-\${Stage}-${suffix}`),
      partitionKey: { name: hash, type: dynamodb.AttributeType.STRING },
      sortKey: range ? { name: range, type: dynamodb.AttributeType.STRING } : undefined,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: 'ttl',
      removalPolicy: RemovalPolicy.RETAIN,
    }),
    id,
  );
}

function bucket(stack: Stack, id: string, props: s3.BucketProps): s3.Bucket {
  const created = new s3.Bucket(stack, id, {
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    removalPolicy: RemovalPolicy.RETAIN,
    ...props,
  });
  pin(created, id);
  if (!created.policy) {
    throw new Error(`${id}: enforceSSL should have created a bucket policy`);
  }
  pin(created.policy, `${id}Policy`);
  return created;
}

export function declareStorage(stack: Stack, params: StackParameters): Storage {
  const transactionsStream = stream(stack, 'TransactionsStream', 'transactions',
    params.shardCount.valueAsNumber, params.streamRetentionHours.valueAsNumber);
  const alertsStream = stream(stack, 'AlertsStream', 'alerts', 1, 24);

  const alertsTable = table(stack, 'AlertsTable', 'alerts', 'pk', 'sk');
  alertsTable.addGlobalSecondaryIndex({
    indexName: ALERTS_BY_DAY_INDEX,
    partitionKey: { name: 'day', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'event_time', type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.ALL,
  });

  const archiveBucket = bucket(stack, 'ArchiveBucket', {
    versioned: true,
    lifecycleRules: [
      {
        id: 'raw-tiering-and-expiry',
        prefix: 'raw/',
        transitions: [
          { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
          { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
        ],
        expiration: Duration.days(params.rawArchiveRetentionDays.valueAsNumber),
        noncurrentVersionExpiration: Duration.days(7),
      },
      { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      { id: 'expire-overwritten-versions', noncurrentVersionExpiration: Duration.days(30) },
    ],
  });
  const esmFailureBucket = bucket(stack, 'EsmFailureBucket', {
    lifecycleRules: [
      { id: 'expire-failure-records', expiration: Duration.days(90) },
      { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
    ],
  });

  // The shard-log backend's snapshots and logs: never expired (a live snapshot of an idle
  // shard is old, not stale), not versioned (the backend deletes what a checkpoint retires),
  // created whatever StateBackend says so switching it never replaces the bucket.
  const operatorStateBucket = bucket(stack, 'OperatorStateBucket', {
    lifecycleRules: [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) }],
  });

  return {
    transactionsStream,
    alertsStream,
    stateTable: table(stack, 'StateTable', 'state', 'pk', 'sk'),
    timersTable: table(stack, 'TimersTable', 'timers', 'pk', 'sk'),
    alertsTable,
    outputsTable: table(stack, 'OutputsTable', 'outputs', 'pk', 'sk'),
    deadLetterTable: table(stack, 'DeadLetterTable', 'dead-letters', 'pk', 'sk'),
    lateEventsTable: table(stack, 'LateEventsTable', 'late-events', 'pk', 'sk'),
    archiveBucket,
    esmFailureBucket,
    operatorStateBucket,
  };
}
