-- Check: reconcile_days_to_trend
-- Fails for each region where this run's days_to_trend does not count every video exactly once: the videos
-- of all categories must add up to the region's distinct videos with a known days_to_trend, and the
-- percentiles must be ordered (min <= p50 <= p90 <= max).
WITH source AS (
    SELECT region, count(DISTINCT video_id) AS videos
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    WHERE days_to_trend IS NOT NULL
    GROUP BY region
),
report AS (
    SELECT region, sum(videos) AS videos,
        count_if(NOT (min_days <= p50_days AND p50_days <= p90_days AND p90_days <= max_days)) AS unordered
    FROM {{ params.analytics_database }}.days_to_trend__{{ safe_run_id(run_id) }}
    GROUP BY region
),
offending AS (
    SELECT coalesce(s.region, r.region) AS region, s.videos AS source_videos, r.videos AS report_videos,
        r.unordered
    FROM source AS s
    FULL OUTER JOIN report AS r ON s.region = r.region
    WHERE s.videos IS DISTINCT FROM r.videos OR coalesce(r.unordered, 0) > 0
)
SELECT
    count(*) AS failures,
    min(
        'region=' || coalesce(region, 'NULL')
        || ' videos ' || coalesce(CAST(source_videos AS varchar), 'NULL') || ' vs ' || coalesce(CAST(report_videos AS varchar), 'NULL')
        || ', unordered percentiles ' || coalesce(CAST(unordered AS varchar), 'NULL')
    ) AS example
FROM offending
