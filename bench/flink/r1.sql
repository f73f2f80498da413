-- R1, per-account velocity: HOP windows of 10 minutes sliding by 1 minute; a window
-- alerts when it holds at least 3 transactions whose amounts sum to more than 2,000.00
-- (200000 minor units). Grouped by currency too: amounts in different currencies do not
-- add up (the generator's foreign-currency transactions belong to travel cases).
CREATE TEMPORARY TABLE r1_alerts (
  account_id STRING,
  currency STRING,
  window_start STRING,
  window_end STRING,
  tx_count BIGINT,
  sum_minor BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = '{output}',
  'format' = 'json'
);

INSERT INTO r1_alerts
SELECT
  account_id,
  currency,
  DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm:ss'),
  DATE_FORMAT(window_end, 'yyyy-MM-dd HH:mm:ss'),
  COUNT(*),
  SUM(amount_minor)
FROM TABLE(HOP(TABLE transactions, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE))
GROUP BY account_id, currency, window_start, window_end
HAVING COUNT(*) >= 3 AND SUM(amount_minor) > 200000
