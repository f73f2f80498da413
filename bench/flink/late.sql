-- Late-record probe (the late-events run only; not a benchmark rule): every transaction
-- id counted in its one-minute event-time window. A record Flink drops as late is missing
-- here; R1's earliest window holding a record ends with that minute, so these are exactly
-- the records Flink dropped from at least one R1 window. The harness diffs the ids
-- against the reference's watermark model.
CREATE TEMPORARY TABLE late_probe (
  window_start STRING,
  tx_count BIGINT,
  transaction_ids STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '{output}',
  'format' = 'json'
);

INSERT INTO late_probe
SELECT
  DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm:ss'),
  COUNT(*),
  LISTAGG(transaction_id, ' ')
FROM TABLE(TUMBLE(TABLE transactions, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end
