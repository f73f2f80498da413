//! Kinesis mapping reading behaviour: starting positions, Enabled, record age,
//! ParallelizationFactor, resharding, tumbling windows — on the in-memory shard log and
//! on the emulator's Kinesis service.

use std::sync::Arc;
use std::time::Duration;

use shardwise_emulator::esm::memory::MemoryStream;
use shardwise_emulator::esm::{EsmOptions, Mapping};
use shardwise_emulator::lambda::FaultSettings;
use shardwise_emulator::template::{KinesisEventSpec, StartingPosition};

use super::support::{
    batches, emulator, eventually, function_spec, kinesis_spec, now_secs, put_all, recorded,
    recorder, scratch, start_mapping as start, wait_for_batches,
};

#[tokio::test]
async fn parallelization_runs_slots_concurrently_and_keeps_per_key_order() {
    let dir = scratch("parallel");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    let f = recorder(
        &em,
        "f",
        &rec,
        &[("SLEEP_MS", "100")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    for i in 0..20 {
        for k in 0..8 {
            stream.put(
                &format!("key{k}"),
                format!("key{k}-{i:02}").as_bytes(),
                now_secs(),
            );
        }
    }
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 5,
            parallelization_factor: 4,
            ..kinesis_spec()
        },
    );
    assert!(
        eventually(Duration::from_secs(60), || batches(&rec).concat().len()
            >= 160)
        .await
    );
    let all = batches(&rec).concat();
    assert_eq!(all.len(), 160, "each record exactly once without failures");
    for k in 0..8 {
        let prefix = format!("key{k}-");
        let seen: Vec<&String> = all.iter().filter(|d| d.starts_with(&prefix)).collect();
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "key{k} out of order");
        assert_eq!(seen.len(), 20);
    }
    assert!(
        f.counter("cold_starts") > 1,
        "slots ran concurrently in several environments"
    );
    m.stop();
}

#[tokio::test]
async fn parent_shards_are_drained_before_their_children() {
    let dir = scratch("reshard");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[("SLEEP_MS", "50")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    for i in 0..6 {
        stream.put_to(
            "shardId-000000000000",
            "k",
            format!("parent{i}").as_bytes(),
            now_secs(),
        );
    }
    let children = stream.split("shardId-000000000000");
    for (c, child) in children.iter().enumerate() {
        for i in 0..3 {
            stream.put_to(child, "k", format!("child{c}-{i}").as_bytes(), now_secs());
        }
    }
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 2,
            ..kinesis_spec()
        },
    );
    assert!(
        eventually(Duration::from_secs(30), || batches(&rec).concat().len()
            >= 12)
        .await
    );
    let all = batches(&rec).concat();
    let last_parent = all.iter().rposition(|d| d.starts_with("parent")).unwrap();
    let first_child = all.iter().position(|d| d.starts_with("child")).unwrap();
    assert!(last_parent < first_child, "{all:?}");
    assert_eq!(all.len(), 12);
    assert_eq!(
        m.metrics_json()["shards"]["shardId-000000000000"]["finished"],
        true
    );
    m.stop();
}

#[tokio::test]
async fn tumbling_windows_carry_state_and_end_with_a_final_invoke() {
    let dir = scratch("tumbling");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    // Two windows of 60 s, long past (1_000_000_020 is a multiple of 60): three
    // records in the first, one in the second.
    for (d, t) in [
        ("a", 1_000_000_020.0),
        ("b", 1_000_000_030.0),
        ("c", 1_000_000_040.0),
        ("d", 1_000_000_090.0),
    ] {
        stream.put("k", d.as_bytes(), t);
    }
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            tumbling_window_secs: 60,
            batch_size: 2,
            ..kinesis_spec()
        },
    );
    let ok = eventually(Duration::from_secs(30), || recorded(&rec).len() >= 5).await;
    assert!(ok, "{:?} {}", recorded(&rec), m.metrics_json());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = recorded(&rec);
    let summary: Vec<(usize, bool, serde_json::Value)> = lines
        .iter()
        .map(|l| {
            (
                l["records"].as_array().unwrap().len(),
                l["final"].as_bool().unwrap(),
                l["state"].clone(),
            )
        })
        .collect();
    use serde_json::json;
    assert_eq!(
        summary,
        vec![
            (2, false, json!({})),
            (1, false, json!({"count": 2})),
            (0, true, json!({"count": 3})),
            (1, false, json!({})),
            (0, true, json!({"count": 1})),
        ]
    );
    assert_eq!(lines[0]["window"]["start"], "2001-09-09T01:47:00.000Z");
    assert_eq!(lines[0]["window"]["end"], "2001-09-09T01:48:00.000Z");
    m.stop();
}

#[tokio::test]
async fn at_timestamp_starts_at_the_first_record_at_or_after_the_time() {
    let dir = scratch("attimestamp");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    for (d, t) in [("old", 100.0), ("edge", 200.0), ("new", 300.0)] {
        stream.put("k", d.as_bytes(), t);
    }
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            starting_position: StartingPosition::AtTimestamp(200.0),
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 1).await;
    assert_eq!(got, [["edge", "new"]]);
    m.stop();
}

#[tokio::test]
async fn latest_skips_records_written_before_the_mapping_started() {
    let dir = scratch("latest");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["before"]);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            starting_position: StartingPosition::Latest,
            ..kinesis_spec()
        },
    );
    assert!(eventually(Duration::from_secs(10), || m.shards_started() == 1).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    put_all(&stream, "k", &["after"]);
    let got = wait_for_batches(&rec, 1).await;
    assert_eq!(got, [["after"]]);
    m.stop();
}

#[tokio::test]
async fn a_disabled_mapping_never_invokes() {
    let dir = scratch("disabled");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0"]);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            enabled: false,
            ..kinesis_spec()
        },
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(recorded(&rec).is_empty());
    assert_eq!(m.metrics_json()["state"], "Disabled");
    assert_eq!(m.metrics_json()["invocations"], 0);
}

#[tokio::test]
async fn records_older_than_the_maximum_record_age_are_discarded_instead_of_retried() {
    let dir = scratch("recordage");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[("FAIL_ON_DATA", "old")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    // Arrived two minutes ago; the mapping keeps records for 60 s at most.
    stream.put("k", b"old", now_secs() - 120.0);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            maximum_record_age_secs: 60,
            ..kinesis_spec()
        },
    );
    assert!(
        eventually(
            Duration::from_secs(10),
            || m.metrics_json()["records_discarded"] == 1
        )
        .await
    );
    put_all(&stream, "k", &["fresh"]);
    let got = wait_for_batches(&rec, 1).await;
    assert_eq!(got, [["fresh"]], "the expired record is never delivered");
    m.stop();
}

#[tokio::test]
async fn mapping_reads_the_emulators_kinesis_stream() {
    use shardwise_emulator::esm::source::KinesisSource;
    let dir = scratch("realkinesis");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let kinesis = env.kinesis();
    if let Err(e) = kinesis
        .create_stream()
        .stream_name("s")
        .shard_count(2)
        .send()
        .await
    {
        eprintln!("SKIPPED: this build's Kinesis service cannot create streams yet: {e:?}");
        return;
    }
    for _ in 0..50 {
        let d = kinesis
            .describe_stream_summary()
            .stream_name("s")
            .send()
            .await
            .unwrap();
        if d.stream_description_summary()
            .map(|s| s.stream_status().as_str())
            == Some("ACTIVE")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let mut sequences = Vec::new();
    for i in 0..6 {
        let out = kinesis
            .put_record()
            .stream_name("s")
            .partition_key(format!("key{}", i % 3))
            .data(aws_smithy_types::Blob::new(format!("r{i}")))
            .send()
            .await
            .unwrap();
        sequences.push(out.sequence_number().to_owned());
    }
    let m = Mapping::start(
        &em,
        Arc::new(KinesisSource(em.clone())),
        &function_spec("f"),
        kinesis_spec(),
        EsmOptions::fast(),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || batches(&rec).concat().len()
            >= 6)
        .await
    );
    let mut seen: Vec<String> = recorded(&rec)
        .iter()
        .flat_map(|l| l["records"].as_array().unwrap().clone())
        .map(|r| r["seq"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    sequences.sort();
    assert_eq!(seen, sequences);
    m.stop();
}

#[tokio::test]
async fn after_split_shard_the_parent_is_drained_before_its_children_on_kinesis() {
    use shardwise_emulator::esm::source::KinesisSource;
    let dir = scratch("kinesissplit");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let kinesis = env.kinesis();
    if let Err(e) = kinesis
        .create_stream()
        .stream_name("s")
        .shard_count(1)
        .send()
        .await
    {
        eprintln!("SKIPPED: this build's Kinesis service cannot create streams yet: {e:?}");
        return;
    }
    let put = |data: String| {
        let kinesis = kinesis.clone();
        async move {
            kinesis
                .put_record()
                .stream_name("s")
                .partition_key("same-key")
                .data(aws_smithy_types::Blob::new(data))
                .send()
                .await
                .unwrap();
        }
    };
    for i in 0..5 {
        put(format!("parent{i}")).await;
    }
    kinesis
        .split_shard()
        .stream_name("s")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        put(format!("child{i}")).await;
    }
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[("SLEEP_MS", "30")],
        Duration::from_secs(5),
        None,
    );
    let m = Mapping::start(
        &em,
        Arc::new(KinesisSource(em.clone())),
        &function_spec("f"),
        KinesisEventSpec {
            batch_size: 2,
            ..kinesis_spec()
        },
        EsmOptions::fast(),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || batches(&rec).concat().len()
            >= 10)
        .await
    );
    let all = batches(&rec).concat();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("parent{i}"))
        .chain((0..5).map(|i| format!("child{i}")))
        .collect();
    assert_eq!(
        all, expected,
        "one key: parent records, then child records, in order"
    );
    m.stop();
}
