{% from 'macros.sql' import analytics_table, run_table, text_of with context -%}
-- Check: reconcile_daily_trending_summary
-- Fails for each (region, trending_date) where this run's daily_trending_summary disagrees with the analytics
-- table (videos, trending views), and for each region whose new entrants do not add up to its distinct
-- videos (every video enters exactly once).
WITH source_days AS (
    SELECT region, trending_date, count(*) AS videos, sum(views) AS total_views
    FROM {{ analytics_table() }}
    GROUP BY region, trending_date
),
report AS (
    SELECT region, trending_date, videos, total_views, new_entrants
    FROM {{ run_table('daily_trending_summary') }}
),
day_offending AS (
    SELECT
        coalesce(s.region, r.region) AS region,
        CAST(coalesce(s.trending_date, r.trending_date) AS varchar) AS day,
        s.videos AS source_videos, r.videos AS report_videos
    FROM source_days AS s
    FULL OUTER JOIN report AS r ON s.region = r.region AND s.trending_date = r.trending_date
    WHERE s.videos IS DISTINCT FROM r.videos OR s.total_views IS DISTINCT FROM r.total_views
),
source_regions AS (
    SELECT region, count(DISTINCT video_id) AS videos
    FROM {{ analytics_table() }}
    GROUP BY region
),
report_regions AS (
    SELECT region, sum(new_entrants) AS videos FROM report GROUP BY region
),
region_offending AS (
    SELECT coalesce(s.region, r.region) AS region, 'all days' AS day,
        s.videos AS source_videos, r.videos AS report_videos
    FROM source_regions AS s
    FULL OUTER JOIN report_regions AS r ON s.region = r.region
    WHERE s.videos IS DISTINCT FROM r.videos
),
offending AS (
    SELECT * FROM day_offending
    UNION ALL
    SELECT * FROM region_offending
)
SELECT
    count(*) AS failures,
    min(
        'region=' || coalesce(region, 'NULL') || ' day=' || coalesce(day, 'NULL')
        || ' videos ' || {{ text_of('source_videos') }} || ' vs ' || {{ text_of('report_videos') }}
    ) AS example
FROM offending
