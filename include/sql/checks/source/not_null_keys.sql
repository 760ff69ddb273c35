{% from 'macros.sql' import key_rows_where, row_named with context -%}
-- Check: not_null_keys
-- Fails when a row of the analytics table or of the cleaned statistics has a null key column
-- (region, video_id, trending_date). Returns one row: failures (offending rows), example.
WITH offending AS (
    {{ key_rows_where('region IS NULL OR video_id IS NULL OR trending_date IS NULL') }}
)
SELECT
    count(*) AS failures,
    min(
        {{ row_named('source') }}
    ) AS example
FROM offending
