{% from 'macros.sql' import analytics_table, run_table, text_of with context -%}
-- Check: reconcile_days_to_trend
-- Fails for each region where this run's days_to_trend does not count every video exactly once: the videos
-- of all categories must add up to the region's distinct videos with a known days_to_trend, and the
-- percentiles must be ordered (min <= p50 <= p90 <= max).
WITH source AS (
    SELECT region, count(DISTINCT video_id) AS videos
    FROM {{ analytics_table() }}
    WHERE days_to_trend IS NOT NULL
    GROUP BY region
),
report AS (
    SELECT region, sum(videos) AS videos,
        count_if(NOT (min_days <= p50_days AND p50_days <= p90_days AND p90_days <= max_days)) AS unordered
    FROM {{ run_table('days_to_trend') }}
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
        || ' videos ' || {{ text_of('source_videos') }} || ' vs ' || {{ text_of('report_videos') }}
        || ', unordered percentiles ' || {{ text_of('unordered') }}
    ) AS example
FROM offending
