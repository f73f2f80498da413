//! Query, Scan, BatchGetItem and BatchWriteItem: key conditions, ordering, pagination
//! before filtering, Select COUNT, sparse indexes, segments, batch limits.

use aws_sdk_dynamodb::types::{
    BillingMode, GlobalSecondaryIndex, KeyType, KeysAndAttributes, LocalSecondaryIndex, Projection,
    ProjectionType, PutRequest, ScalarAttributeType, Select, WriteRequest,
};
use shardwise_tests::{TestEnv, skip_on};

use super::{Item, attr, code, create_table, item, key, message, n, s};

async fn fill(env: &TestEnv, t: &str, count: i64) {
    let c = env.dynamodb();
    for i in 0..count {
        c.put_item()
            .table_name(t)
            .set_item(Some(item(&[
                ("pk", s("p")),
                ("sk", n(i)),
                ("even", AttrBool(i % 2 == 0).v()),
            ])))
            .send()
            .await
            .unwrap();
    }
}

struct AttrBool(bool);
impl AttrBool {
    fn v(self) -> aws_sdk_dynamodb::types::AttributeValue {
        aws_sdk_dynamodb::types::AttributeValue::Bool(self.0)
    }
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.get("sk").unwrap().as_n().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn query_orders_numerically_and_honours_sort_conditions_and_direction() {
    let env = TestEnv::start().await;
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    fill(&env, &t, 12).await;
    let c = env.dynamodb();
    let q = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n(2))
        .expression_attribute_values(":b", n(10))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sks(q.items()),
        ["10", "9", "8", "7", "6", "5", "4", "3", "2"]
    );
    let q = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p AND sk < :a")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n(3))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(q.items()), ["0", "1", "2"]);
}

#[tokio::test]
async fn query_limit_counts_items_before_the_filter_and_pages_resume() {
    let env = TestEnv::start().await;
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    fill(&env, &t, 10).await;
    let c = env.dynamodb();
    let mut start = None;
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        let q = c
            .query()
            .table_name(&t)
            .key_condition_expression("pk = :p")
            .filter_expression("even = :t")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":t", AttrBool(true).v())
            .limit(4)
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(q.scanned_count() <= 4);
        assert!(q.count() <= q.scanned_count());
        found.extend(sks(q.items()));
        match q.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(found, ["0", "2", "4", "6", "8"]);
    assert!(pages >= 3);
}

#[tokio::test]
async fn select_count_returns_counts_only() {
    let env = TestEnv::start().await;
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    fill(&env, &t, 5).await;
    let q = env
        .dynamodb()
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(q.count(), 5);
    assert!(q.items().is_empty());
}

#[tokio::test]
async fn key_condition_must_use_the_partition_key_with_equality() {
    let env = TestEnv::start().await;
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    let err = env
        .dynamodb()
        .query()
        .table_name(&t)
        .key_condition_expression("sk = :a")
        .expression_attribute_values(":a", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

async fn indexed_table(env: &TestEnv) -> String {
    let name = env.unique_name("ddb");
    env.dynamodb()
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .attribute_definitions(attr("l", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("lsi")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("l", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn gsi_holds_only_items_with_its_key_and_projects_keys_only() {
    let env = TestEnv::start().await;
    let t = indexed_table(&env).await;
    let c = env.dynamodb();
    for (i, g) in [(1, Some("x")), (2, None), (3, Some("x"))] {
        let mut it = item(&[
            ("pk", s("p")),
            ("sk", n(i)),
            ("l", n(10 - i)),
            ("other", s("o")),
        ]);
        if let Some(g) = g {
            it.insert("g".into(), s(g));
        }
        c.put_item()
            .table_name(&t)
            .set_item(Some(it))
            .send()
            .await
            .unwrap();
    }
    let q = c
        .query()
        .table_name(&t)
        .index_name("gsi")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(q.count(), 2);
    for it in q.items() {
        assert!(
            !it.contains_key("other"),
            "KEYS_ONLY projects no other attribute: {it:?}"
        );
        assert!(it.contains_key("pk") && it.contains_key("sk") && it.contains_key("g"));
    }
    let err = c
        .query()
        .table_name(&t)
        .index_name("gsi")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("x"))
        .consistent_read(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let q = c
        .query()
        .table_name(&t)
        .index_name("lsi")
        .key_condition_expression("pk = :p AND l >= :l")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":l", n(8))
        .send()
        .await
        .unwrap();
    let ls: Vec<String> = q
        .items()
        .iter()
        .map(|i| i["l"].as_n().unwrap().clone())
        .collect();
    assert_eq!(ls, ["8", "9"], "LSI order is by its own sort key");
}

#[tokio::test]
async fn scan_segments_partition_the_table() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    for i in 0..20 {
        c.put_item()
            .table_name(&t)
            .item("pk", s(&format!("k{i}")))
            .send()
            .await
            .unwrap();
    }
    let mut total = 0;
    for seg in 0..3 {
        let r = c
            .scan()
            .table_name(&t)
            .segment(seg)
            .total_segments(3)
            .send()
            .await
            .unwrap();
        total += r.count();
    }
    assert_eq!(total, 20);
    let err = c
        .scan()
        .table_name(&t)
        .segment(3)
        .total_segments(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn batch_get_returns_found_items_and_rejects_duplicates_and_over_100_keys() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    for i in 0..3 {
        c.put_item()
            .table_name(&t)
            .item("pk", s(&format!("k{i}")))
            .send()
            .await
            .unwrap();
    }
    let keys: Vec<Item> = (0..5)
        .map(|i| item(&[("pk", s(&format!("k{i}")))]))
        .collect();
    let r = c
        .batch_get_item()
        .request_items(
            &t,
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.responses().unwrap()[&t].len(), 3);
    assert!(r.unprocessed_keys().is_none_or(|u| u.is_empty()));
    let dup = vec![item(&[("pk", s("k0"))]), item(&[("pk", s("k0"))])];
    let err = c
        .batch_get_item()
        .request_items(
            &t,
            KeysAndAttributes::builder()
                .set_keys(Some(dup))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("duplicates"), "{}", message(&err));
    let many: Vec<Item> = (0..101)
        .map(|i| item(&[("pk", s(&format!("m{i}")))]))
        .collect();
    let err = c
        .batch_get_item()
        .request_items(
            &t,
            KeysAndAttributes::builder()
                .set_keys(Some(many))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

fn put(i: usize) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item(&[("pk", s(&format!("w{i}")))])))
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn batch_write_writes_up_to_25_and_rejects_duplicates() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    let r = c
        .batch_write_item()
        .request_items(&t, (0..25).map(put).collect())
        .send()
        .await
        .unwrap();
    assert!(r.unprocessed_items().is_none_or(|u| u.is_empty()));
    let scan = c.scan().table_name(&t).send().await.unwrap();
    assert_eq!(scan.count(), 25);
    let err = c
        .batch_write_item()
        .request_items(&t, vec![put(1), put(1)])
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        message(&err),
        "Provided list of item keys contains duplicates"
    );
}

#[tokio::test]
async fn batch_write_of_26_requests_is_rejected() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto accepts 26-item BatchWriteItem");
    let t = create_table(&env, None).await;
    let err = env
        .dynamodb()
        .batch_write_item()
        .request_items(&t, (0..26).map(put).collect())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn query_filter_on_a_key_attribute_is_rejected() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto accepts key attributes in a Query FilterExpression"
    );
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    let err = env
        .dynamodb()
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .filter_expression("sk > :a")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("Filter Expression can only contain non-primary key attributes"),
        "{}",
        message(&err)
    );
}
