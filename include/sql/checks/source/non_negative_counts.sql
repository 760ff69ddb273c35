-- Check: non_negative_counts
-- Fails when views, likes, dislikes or comment_count is negative in the analytics table or the cleaned
-- statistics (nulls are allowed: a count YouTube hid is unknown, not negative).
WITH offending AS (
    SELECT '{{ params.analytics_table }}' AS source, region, video_id, trending_date
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    WHERE views < 0 OR likes < 0 OR dislikes < 0 OR comment_count < 0
    UNION ALL
    SELECT '{{ params.statistics_table }}' AS source, region, video_id, trending_date
    FROM {{ params.processed_database }}.{{ params.statistics_table }}
    WHERE views < 0 OR likes < 0 OR dislikes < 0 OR comment_count < 0
)
SELECT
    count(*) AS failures,
    min(
        source || ': region=' || coalesce(region, 'NULL') || ' video_id=' || coalesce(video_id, 'NULL')
        || ' trending_date=' || coalesce(CAST(trending_date AS varchar), 'NULL')
    ) AS example
FROM offending
