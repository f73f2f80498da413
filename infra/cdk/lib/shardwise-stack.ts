/**
 * The Shardwise stack in CDK: the same resources, properties and logical ids as
 * infra/template.yaml (compared by infra/tests/test_parity.py). Parameters, conditions, then data,
 * then functions, then outputs, in the template's order.
 */
import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RustFunction } from 'cargo-lambda-cdk';
import { declareFunction, FUNCTION_SPECS } from './functions';
import { declareConditions, declareParameters } from './parameters';
import { declareStorage } from './storage';

export class ShardwiseStack extends Stack {
  /** Function name (e.g. `fraud-detector`) -> function. */
  readonly functions: Record<string, RustFunction> = {};

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.templateOptions.description =
      'Shardwise transaction monitoring (fraud alerts, daily totals, sessions, archive, reconciliation)';

    const params = declareParameters(this);
    const conditions = declareConditions(this, params);
    const storage = declareStorage(this, params);
    for (const spec of FUNCTION_SPECS) {
      this.functions[spec.name] = declareFunction(this, spec, params, conditions, storage);
    }

    const output = (outputId: string, value: string, description?: string) =>
      new CfnOutput(this, outputId, { value, description });
    output('TransactionsStreamName', storage.transactionsStream.streamName,
      'Producers PutRecords here (partition key = account id).');
    output('AlertsStreamName', storage.alertsStream.streamName);
    output('StateTableName', storage.stateTable.tableName);
    output('TimersTableName', storage.timersTable.tableName);
    output('AlertsTableName', storage.alertsTable.tableName);
    output('OutputsTableName', storage.outputsTable.tableName);
    output('DeadLetterTableName', storage.deadLetterTable.tableName);
    output('LateEventsTableName', storage.lateEventsTable.tableName);
    output('ArchiveBucketName', storage.archiveBucket.bucketName);
    output('EsmFailureBucketName', storage.esmFailureBucket.bucketName);
    output('OperatorStateBucketName', storage.operatorStateBucket.bucketName,
      "The shard-log state backend's objects (StateBackend=shard_log).");
    output('LoadGeneratorFunctionName', this.functions['load-generator'].functionName,
      'Invoke directly to drive the deployed stack.');
    output('ReconcilerFunctionName', this.functions.reconciler.functionName);
    const url = this.functions['query-api'].node.tryFindChild('FunctionUrl');
    if (!url) {
      throw new Error('query-api has no function URL');
    }
    output('QueryApiUrl', (url as unknown as { url: string }).url,
      'Function URL of query-api (AWS_IAM auth; sign requests with SigV4).');
  }
}
