-- The transactions, read from one JSON Lines file in arrival order.
-- event_time is RFC 3339 UTC with milliseconds ("2026-11-21T08:15:02.113Z"): the JSON
-- format parses it natively as TIMESTAMP_LTZ(3) in ISO-8601 mode (no string functions).
-- The watermark trails the largest event time seen by {watermark_delay_s} s: the
-- generator's on-time records are at most 3 s out of order, so none of them is late;
-- records delivered hours late are (Flink drops them from windows already fired).
CREATE TEMPORARY TABLE transactions (
  transaction_id STRING,
  account_id STRING,
  merchant_id STRING,
  amount_minor BIGINT,
  currency STRING,
  event_time TIMESTAMP_LTZ(3),
  WATERMARK FOR event_time AS event_time - INTERVAL '{watermark_delay_s}' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = '{input}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601',
  'json.fail-on-missing-field' = 'false',
  'json.ignore-parse-errors' = 'false'
)
