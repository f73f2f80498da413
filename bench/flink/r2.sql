-- R2, daily revenue and count per merchant and currency: TUMBLE windows of one UTC day
-- (the session time zone is UTC, so days start at 00:00Z).
CREATE TEMPORARY TABLE r2_totals (
  merchant_id STRING,
  currency STRING,
  `day` STRING,
  revenue_minor BIGINT,
  tx_count BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = '{output}',
  'format' = 'json'
);

INSERT INTO r2_totals
SELECT
  merchant_id,
  currency,
  DATE_FORMAT(window_start, 'yyyy-MM-dd'),
  SUM(amount_minor),
  COUNT(*)
FROM TABLE(TUMBLE(TABLE transactions, DESCRIPTOR(event_time), INTERVAL '1' DAY))
GROUP BY merchant_id, currency, window_start, window_end
