"""The stack's contract with the functions (issue 7), shared by the tests.

Names here are the ones the functions and the emulator rely on; infra/README.md documents
them. Changing one is an interface change, so it must change here on purpose.
"""

from __future__ import annotations

# function name (crate = binary = SAM Binary) -> logical id prefix in both templates
FUNCTIONS: dict[str, str] = {
    "fraud-detector": "FraudDetector",
    "daily-totals": "DailyTotals",
    "session-tracker": "SessionTracker",
    "archiver": "Archiver",
    "timer-dispatcher": "TimerDispatcher",
    "reconciler": "Reconciler",
    "query-api": "QueryApi",
    "load-generator": "LoadGenerator",
}

STREAM_FUNCTIONS = ("fraud-detector", "daily-totals", "session-tracker", "archiver")

# Every function receives these variables (values: !Ref of the named resource or parameter).
ENVIRONMENT: dict[str, str] = {
    "STAGE": "Stage",
    "RUST_LOG": "LogLevel",
    "TRANSACTIONS_STREAM": "TransactionsStream",
    "ALERTS_STREAM": "AlertsStream",
    "STATE_TABLE": "StateTable",
    "TIMERS_TABLE": "TimersTable",
    "ALERTS_TABLE": "AlertsTable",
    "OUTPUTS_TABLE": "OutputsTable",
    "DEAD_LETTER_TABLE": "DeadLetterTable",
    "LATE_EVENTS_TABLE": "LateEventsTable",
    "ARCHIVE_BUCKET": "ArchiveBucket",
    "FRAUD_SCORE_THRESHOLD": "FraudScoreThreshold",
    "FRAUD_VELOCITY_LIMIT": "FraudVelocityLimit",
    "FRAUD_HIGH_AMOUNT_MINOR": "FraudHighAmountMinor",
    "ALLOWED_LATENESS_SECONDS": "AllowedLatenessSeconds",
    "SESSION_TIMEOUT_SECONDS": "SessionTimeoutSeconds",
    "SHARDWISE_COMMIT_GROUP": "CommitGroup",
}

# The state backend's variables. On the functions whose operators can use the shard log --
# their state key is the Kinesis partition key (fraud-detector: the account; daily-totals'
# first-seen gate, operator daily-totals-ids: the account) or begins with it and `#`
# (session-tracker: `<account>#<device>`), so each key lives in one shard -- and on the
# timer-dispatcher, which fires session-tracker's timers of idle shards through its shard log.
# daily-totals' merchant/product/day totals stay in DynamoDB (their keys span shards).
STATE_BACKEND_ENVIRONMENT: dict[str, str] = {
    "SHARDWISE_STATE_BACKEND": "StateBackend",
    "SHARDWISE_STATE_BUCKET": "OperatorStateBucket",
}
# function -> the operator whose shard-log objects it reads and writes.
STATE_BACKEND_OPERATORS: dict[str, str] = {
    "fraud-detector": "fraud-detector",
    "daily-totals": "daily-totals-ids",
    "session-tracker": "session-tracker",
    "timer-dispatcher": "session-tracker",
}
# The stream functions that run on the shard log (ParallelizationFactor 1 under it).
SHARD_LOG_STREAM_FUNCTIONS = ("fraud-detector", "daily-totals", "session-tracker")
# The stream functions whose ParallelizationFactor is 1 on either backend: daily-totals' keys
# (merchant, product, day) are not partition keys, so concurrent batches of a shard could
# update one key out of order.
ONE_BATCH_PER_SHARD_ALWAYS = ("daily-totals",)

# daily-totals' products and merchants hashed into this many state keys, by StateBackend:
# only with the first-seen gate (shard_log); without it a bucket key's recent-ids list would
# overflow its cap.
BUCKETS: dict[str, dict[str, str]] = {
    "DAILY_TOTALS_PRODUCT_BUCKETS": {"shard_log": "16", "dynamodb": "0"},
    "DAILY_TOTALS_MERCHANT_BUCKETS": {"shard_log": "32", "dynamodb": "0"},
}


def state_object_prefix(operator: str) -> str:
    """Where the backend writes an operator's objects: shardwise::config::DEFAULT_STATE_PREFIX
    (SHARDWISE_STATE_PREFIX is not set) + the operator's name + "/" (shard_log/backend.rs)."""
    return f"shardwise-state/{operator}/"


# table logical id -> (hash key, range key or None); every key attribute is a string.
TABLE_KEYS: dict[str, tuple[str, str | None]] = {
    "StateTable": ("pk", "sk"),
    "TimersTable": ("pk", "sk"),
    "AlertsTable": ("pk", "sk"),
    "OutputsTable": ("pk", "sk"),
    "DeadLetterTable": ("pk", "sk"),
    "LateEventsTable": ("pk", "sk"),
}

SCHEDULES: dict[str, str] = {
    "timer-dispatcher": "rate(1 minute)",
    "reconciler": "cron(15 2 * * ? *)",  # the ReconcileSchedule parameter's default
}
