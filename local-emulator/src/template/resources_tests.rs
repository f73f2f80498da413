use super::*;
use crate::template::{StartingPosition, Template};

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Shards:
    Type: Number
    Default: 2
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Events:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: !Sub '${AWS::StackName}-events-${Stage}'
      ShardCount: !Ref Shards
  State:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Archive:
    Type: AWS::S3::Bucket
  ProdOnly:
    Type: AWS::S3::Bucket
    Condition: IsProd
  Worker:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: worker-bin
    Properties:
      CodeUri: ../functions/worker
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      ReservedConcurrentExecutions: 2
      FunctionUrlConfig: {AuthType: NONE}
      Environment:
        Variables:
          TABLE: !Ref State
          BUCKET: !Ref Archive
          STREAM_ARN: !GetAtt Events.Arn
          MODE: !If [IsProd, strict, lenient]
      Events:
        Stream:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Events.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure:
                Destination: !GetAtt Archive.Arn
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 2 * * ? *)
        Api:
          Type: Api
          Properties: {Path: /, Method: get}
  Queue:
    Type: AWS::SQS::Queue
"#;

fn load(overrides: &[&str]) -> Template {
    let overrides = crate::template::parse_overrides(overrides).unwrap();
    Template::parse(TEMPLATE, &overrides, &Deployment::default()).unwrap()
}

#[test]
fn resources_get_local_names_and_resolved_properties() {
    let t = load(&[]);
    assert_eq!(t.streams.len(), 1);
    assert_eq!(t.streams[0].name, "shardwise-local-events-dev");
    assert_eq!(t.streams[0].shard_count, 2);
    assert_eq!(t.tables[0].name, "State");
    assert_eq!(t.buckets.len(), 1, "the IsProd bucket is skipped");
    assert_eq!(t.buckets[0].name, "archive");
}

#[test]
fn function_environment_merges_globals_and_resolves_references() {
    let t = load(&[]);
    let f = t.function("Worker").unwrap();
    assert_eq!(f.binary, "worker-bin");
    assert_eq!(f.timeout_secs, 30);
    assert_eq!(f.memory_mb, 256);
    assert_eq!(f.reserved_concurrency, Some(2));
    assert_eq!(f.environment["STAGE"], "dev");
    assert_eq!(f.environment["TABLE"], "State");
    assert_eq!(f.environment["BUCKET"], "archive");
    assert_eq!(f.environment["MODE"], "lenient");
    assert_eq!(
        f.environment["STREAM_ARN"],
        "arn:aws:kinesis:us-east-1:000000000000:stream/shardwise-local-events-dev"
    );
}

#[test]
fn parameter_overrides_change_conditions_and_names() {
    let t = load(&["Stage=prod", "Shards=4"]);
    assert_eq!(t.buckets.len(), 2);
    assert_eq!(t.streams[0].shard_count, 4);
    assert_eq!(t.function("Worker").unwrap().environment["MODE"], "strict");
}

#[test]
fn disallowed_parameter_value_is_rejected() {
    let overrides = crate::template::parse_overrides(&["Stage=qa"]).unwrap();
    let err = Template::parse(TEMPLATE, &overrides, &Deployment::default()).unwrap_err();
    assert!(err.to_string().contains("AllowedValues"), "{err}");
}

#[test]
fn kinesis_and_schedule_events_are_extracted() {
    let t = load(&[]);
    let k = &t.function("Worker").unwrap().kinesis[0];
    assert_eq!(k.batch_size, 10);
    assert_eq!(k.starting_position, StartingPosition::TrimHorizon);
    assert!(k.report_batch_item_failures);
    assert_eq!(
        k.on_failure,
        Some(crate::template::events::OnFailure::S3Bucket(
            "archive".into()
        ))
    );
    assert_eq!(t.schedules.len(), 1);
    assert_eq!(t.schedules[0].expression, "cron(0 2 * * ? *)");
    assert_eq!(t.schedules[0].function, "Worker");
}

#[test]
fn everything_not_emulated_is_listed() {
    let t = load(&[]);
    let notes = t.not_emulated.join("\n");
    assert!(notes.contains("Queue (AWS::SQS::Queue)"), "{notes}");
    assert!(notes.contains("event Api of type Api"), "{notes}");
    assert!(
        notes.contains("Worker: property FunctionUrlConfig not emulated"),
        "{notes}"
    );
}

#[test]
fn unsupported_intrinsic_in_a_function_fails_with_its_name() {
    let text = TEMPLATE.replace("TABLE: !Ref State", "TABLE: !ImportValue shared-table");
    let err = Template::parse(&text, &BTreeMap::new(), &Deployment::default()).unwrap_err();
    assert_eq!(
        err,
        TemplateError::Unsupported("intrinsic function Fn::ImportValue".into())
    );
}
