{% from 'macros.sql' import analytics_table, statistics_table, row_named with context -%}
-- Check: unique_keys
-- Fails when (region, video_id, trending_date) is not unique in the analytics table or in the cleaned
-- statistics. failures counts the surplus rows (a key seen 3 times adds 2).
WITH keyed AS (
    SELECT '{{ settings.analytics_table }}' AS source, region, video_id, trending_date, count(*) AS n
    FROM {{ analytics_table() }}
    GROUP BY region, video_id, trending_date
    UNION ALL
    SELECT '{{ settings.statistics_table }}' AS source, region, video_id, trending_date, count(*) AS n
    FROM {{ statistics_table() }}
    GROUP BY region, video_id, trending_date
)
SELECT
    CAST(coalesce(sum(n - 1), 0) AS bigint) AS failures,
    min(
        {{ row_named('source') }} || ' x' || CAST(n AS varchar)
    ) AS example
FROM keyed
WHERE n > 1
