-- Check: unique_keys
-- Fails when (region, video_id, trending_date) is not unique in the analytics table or in the cleaned
-- statistics. failures counts the surplus rows (a key seen 3 times adds 2).
WITH keyed AS (
    SELECT '{{ params.analytics_table }}' AS source, region, video_id, trending_date, count(*) AS n
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    GROUP BY region, video_id, trending_date
    UNION ALL
    SELECT '{{ params.statistics_table }}' AS source, region, video_id, trending_date, count(*) AS n
    FROM {{ params.processed_database }}.{{ params.statistics_table }}
    GROUP BY region, video_id, trending_date
)
SELECT
    CAST(coalesce(sum(n - 1), 0) AS bigint) AS failures,
    min(
        source || ': region=' || coalesce(region, 'NULL') || ' video_id=' || coalesce(video_id, 'NULL')
        || ' trending_date=' || coalesce(CAST(trending_date AS varchar), 'NULL') || ' x' || CAST(n AS varchar)
    ) AS example
FROM keyed
WHERE n > 1
