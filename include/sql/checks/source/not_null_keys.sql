-- Check: not_null_keys
-- Fails when a row of the analytics table or of the cleaned statistics has a null key column
-- (region, video_id, trending_date). Returns one row: failures (offending rows), example.
WITH offending AS (
    SELECT '{{ params.analytics_table }}' AS source, region, video_id, trending_date
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    WHERE region IS NULL OR video_id IS NULL OR trending_date IS NULL
    UNION ALL
    SELECT '{{ params.statistics_table }}' AS source, region, video_id, trending_date
    FROM {{ params.processed_database }}.{{ params.statistics_table }}
    WHERE region IS NULL OR video_id IS NULL OR trending_date IS NULL
)
SELECT
    count(*) AS failures,
    min(
        source || ': region=' || coalesce(region, 'NULL') || ' video_id=' || coalesce(video_id, 'NULL')
        || ' trending_date=' || coalesce(CAST(trending_date AS varchar), 'NULL')
    ) AS example
FROM offending
