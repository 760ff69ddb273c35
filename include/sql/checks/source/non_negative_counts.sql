{% from 'macros.sql' import key_rows_where, row_named with context -%}
-- Check: non_negative_counts
-- Fails when views, likes, dislikes or comment_count is negative in the analytics table or the cleaned
-- statistics (nulls are allowed: a count YouTube hid is unknown, not negative).
WITH offending AS (
    {{ key_rows_where('views < 0 OR likes < 0 OR dislikes < 0 OR comment_count < 0') }}
)
SELECT
    count(*) AS failures,
    min(
        {{ row_named('source') }}
    ) AS example
FROM offending
