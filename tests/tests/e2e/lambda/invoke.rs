//! Runtime API, Invoke API, timeouts, crashes, concurrency, logs and kill faults.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use shardwise_emulator::lambda::{Admission, FaultSettings, InvokeError, InvokeOutcome};
use shardwise_tests::raw_http;

use super::support::{emulator, eventually, recorded, recorder, scratch};

fn payload(v: Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn success(outcome: &InvokeOutcome) -> Value {
    match outcome {
        InvokeOutcome::Success(body) => serde_json::from_slice(body).unwrap(),
        other => panic!("expected success, got {other:?}"),
    }
}

#[tokio::test]
async fn invoke_api_runs_the_real_binary_with_the_lambda_environment() {
    let dir = scratch("invoke");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    recorder(
        &em,
        "echo",
        &dir.join("rec"),
        &[("CUSTOM_VAR", "from-template")],
        Duration::from_secs(5),
        None,
    );
    let before = std::time::SystemTime::now();
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/2015-03-31/functions/echo/invocations",
        &[("Content-Type", "application/json")],
        br#"{"hello":"world"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-function-error"), None);
    let body = r.json();
    assert_eq!(body["echo"], json!({"hello": "world"}));
    assert_eq!(body["function_name"], "echo");
    assert_eq!(body["memory"], "256");
    assert_eq!(body["custom"], "from-template");
    assert_eq!(body["endpoint"], env.endpoint.as_str());
    assert_eq!(
        body["invoked_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    );
    assert!(body["trace_id"].as_str().unwrap().starts_with("Root=1-"));
    let deadline = body["deadline_ms"].as_u64().unwrap() as u128;
    let expected = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 5_000;
    assert!(
        deadline >= expected && deadline < expected + 5_000,
        "deadline {deadline}"
    );
}

#[tokio::test]
async fn handler_errors_and_panics_come_back_as_unhandled_function_errors() {
    let dir = scratch("errors");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let f = recorder(
        &em,
        "err",
        &dir.join("rec"),
        &[],
        Duration::from_secs(5),
        None,
    );
    for action in ["error", "panic"] {
        let r = raw_http::request(
            &env.authority(),
            "POST",
            "/2015-03-31/functions/err/invocations",
            &[],
            json!({"action": action}).to_string().as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-amz-function-error"),
            Some("Unhandled"),
            "{action}"
        );
        assert!(
            r.json()["errorMessage"]
                .as_str()
                .unwrap()
                .contains("requested"),
            "{}",
            r.text()
        );
    }
    // The runtime survives handler errors and panics: one warm environment served both.
    assert_eq!(f.counter("cold_starts"), 1);
    assert_eq!(f.counter("errors"), 2);
}

#[tokio::test]
async fn unknown_functions_get_resource_not_found() {
    let dir = scratch("unknown");
    let (env, _em) = emulator(&dir, FaultSettings::default()).await;
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/2015-03-31/functions/nope/invocations",
        &[],
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn event_invocations_are_accepted_at_once_and_run_in_the_background() {
    let dir = scratch("event");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "ev", &rec, &[], Duration::from_secs(5), None);
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/2015-03-31/functions/ev/invocations",
        &[("X-Amz-Invocation-Type", "Event")],
        br#"{"n":1}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 202);
    assert!(eventually(Duration::from_secs(20), || recorded(&rec).len() == 1).await);
}

#[tokio::test]
async fn a_timeout_kills_the_environment_and_is_a_function_error() {
    let dir = scratch("timeout");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let f = recorder(
        &em,
        "slow",
        &dir.join("rec"),
        &[],
        Duration::from_secs(1),
        None,
    );
    // Warm up so the measured time excludes the cold start.
    em.lambda
        .invoke("slow", payload(json!({})), Admission::Wait)
        .await
        .unwrap();
    let start = Instant::now();
    let out = em
        .lambda
        .invoke(
            "slow",
            payload(json!({"action": "sleep", "ms": 10_000})),
            Admission::Wait,
        )
        .await
        .unwrap();
    let took = start.elapsed();
    match &out {
        InvokeOutcome::FunctionError {
            error_type,
            payload,
        } => {
            assert_eq!(error_type, "Sandbox.Timedout");
            assert!(
                payload["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("Task timed out after 1.00 seconds")
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(f.counter("timeouts"), 1);
    // The killed environment is replaced by a cold start on the next invocation.
    let next = em
        .lambda
        .invoke("slow", payload(json!({})), Admission::Wait)
        .await
        .unwrap();
    assert!(!next.is_error());
    assert!(eventually(Duration::from_secs(5), || f.counter("cold_starts") == 2).await);
}

#[tokio::test]
async fn a_process_that_exits_fails_its_invocation_and_is_replaced() {
    let dir = scratch("exit");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let f = recorder(
        &em,
        "crash",
        &dir.join("rec"),
        &[],
        Duration::from_secs(5),
        None,
    );
    let first = success(
        &em.lambda
            .invoke("crash", payload(json!({})), Admission::Wait)
            .await
            .unwrap(),
    );
    let out = em
        .lambda
        .invoke(
            "crash",
            payload(json!({"action": "exit", "code": 7})),
            Admission::Wait,
        )
        .await
        .unwrap();
    match &out {
        InvokeOutcome::FunctionError {
            error_type,
            payload,
        } => {
            assert_eq!(error_type, "Runtime.ExitError");
            assert!(
                payload["errorMessage"].as_str().unwrap().contains("7"),
                "{payload}"
            );
        }
        other => panic!("expected an exit error, got {other:?}"),
    }
    let after = success(
        &em.lambda
            .invoke("crash", payload(json!({})), Admission::Wait)
            .await
            .unwrap(),
    );
    assert_ne!(
        first["pid"], after["pid"],
        "a new process serves after the crash"
    );
    assert_eq!(f.counter("cold_starts"), 2);
    assert_eq!(f.counter("process_exits"), 1);
}

#[tokio::test]
async fn reserved_concurrency_throttles_synchronous_callers_and_queues_the_rest() {
    let dir = scratch("concurrency");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let f = recorder(
        &em,
        "one",
        &dir.join("rec"),
        &[],
        Duration::from_secs(10),
        Some(1),
    );
    let em2 = em.clone();
    let slow = tokio::spawn(async move {
        em2.lambda
            .invoke(
                "one",
                payload(json!({"action": "sleep", "ms": 1500})),
                Admission::Wait,
            )
            .await
    });
    assert!(eventually(Duration::from_secs(20), || f.counter("in_flight") == 1).await);
    let throttled = em
        .lambda
        .invoke("one", payload(json!({})), Admission::FailFast)
        .await;
    assert_eq!(throttled, Err(InvokeError::Throttled));
    // A waiting caller runs after the slot frees, in the same single environment.
    let waited = em
        .lambda
        .invoke("one", payload(json!({})), Admission::Wait)
        .await
        .unwrap();
    assert!(!waited.is_error());
    assert!(!slow.await.unwrap().unwrap().is_error());
    assert_eq!(f.counter("cold_starts"), 1);
    assert_eq!(f.counter("throttles"), 1);
}

#[tokio::test]
async fn function_output_is_kept_in_a_log_file_per_function() {
    let dir = scratch("logs");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    recorder(
        &em,
        "loud",
        &dir.join("rec"),
        &[],
        Duration::from_secs(5),
        None,
    );
    let out = em
        .lambda
        .invoke("loud", payload(json!({"action": "panic"})), Admission::Wait)
        .await
        .unwrap();
    assert!(out.is_error());
    let log = dir.join("loud.log");
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("requested panic"))
        .await,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(std::fs::read_to_string(&log).unwrap().starts_with("[loud]"));
}

#[tokio::test]
async fn injected_kills_fail_invocations_and_are_counted() {
    let dir = scratch("kills");
    let faults = FaultSettings {
        kill_probability: 1.0,
        ..FaultSettings::default()
    };
    let (_env, em) = emulator(&dir, faults).await;
    let f = recorder(
        &em,
        "victim",
        &dir.join("rec"),
        &[],
        Duration::from_secs(3),
        None,
    );
    let out = em
        .lambda
        .invoke(
            "victim",
            payload(json!({"action": "sleep", "ms": 2500})),
            Admission::Wait,
        )
        .await
        .unwrap();
    assert!(
        matches!(&out, InvokeOutcome::FunctionError { error_type, .. } if error_type == "Runtime.ExitError"),
        "{out:?}"
    );
    let faults = em.lambda.metrics()["victim"]["faults"].clone();
    assert_eq!(faults["kills"], 1, "{faults}");
    assert_eq!(f.counter("process_exits"), 1);
}

#[tokio::test]
async fn injected_delays_hold_invocations_back_and_are_counted() {
    let dir = scratch("delays");
    let faults = FaultSettings {
        delay_probability: 1.0,
        delay: Duration::from_millis(400),
        ..FaultSettings::default()
    };
    let (_env, em) = emulator(&dir, faults).await;
    recorder(
        &em,
        "late",
        &dir.join("rec"),
        &[],
        Duration::from_secs(5),
        None,
    );
    em.lambda
        .invoke("late", payload(json!({})), Admission::Wait)
        .await
        .unwrap();
    let start = Instant::now();
    let out = em
        .lambda
        .invoke("late", payload(json!({})), Admission::Wait)
        .await
        .unwrap();
    assert!(!out.is_error());
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(em.lambda.metrics()["late"]["faults"]["delays"], 2);
}

#[tokio::test]
async fn a_failed_event_invocation_is_retried_twice_after_one_and_two_emulated_minutes() {
    let dir = scratch("asyncretry");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    em.clock.set_rate(0.0);
    let rec = dir.join("rec");
    let f = recorder(&em, "flaky", &rec, &[], Duration::from_secs(5), None);
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/2015-03-31/functions/flaky/invocations",
        &[("X-Amz-Invocation-Type", "Event")],
        br#"{"action":"error"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 202);
    let attempts = |n: usize| {
        let rec = rec.clone();
        async move { eventually(Duration::from_secs(20), || recorded(&rec).len() == n).await }
    };
    assert!(attempts(1).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        recorded(&rec).len(),
        1,
        "no retry before a minute has passed"
    );
    em.clock.advance(Duration::from_secs(60));
    assert!(attempts(2).await);
    em.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        recorded(&rec).len(),
        2,
        "the second retry waits two minutes"
    );
    em.clock.advance(Duration::from_secs(60));
    assert!(attempts(3).await);
    em.clock.advance(Duration::from_secs(3_600));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorded(&rec).len(), 3, "two retries at most");
    assert_eq!(f.counter("async_retries"), 2);
}
