{% from 'macros.sql' import analytics_table, run_table, text_of with context -%}
-- Check: reconcile_daily_reports
-- Fails for each (daily report, region) of this run that does not add up to the analytics table:
-- category_daily's trending rows and views, channel_daily's appearances, and days_to_trend_daily's videos
-- (each video once, with a known days_to_trend) must equal the region's.
WITH source AS (
    SELECT region, count(*) AS trending_rows, sum(views) AS total_views,
        count(DISTINCT CASE WHEN days_to_trend IS NOT NULL THEN video_id END) AS timed_videos
    FROM {{ analytics_table() }}
    GROUP BY region
),
reported AS (
    SELECT 'category_daily' AS report, region, sum(trending_rows) AS n, sum(total_views) AS total_views
    FROM {{ run_table('category_daily') }}
    GROUP BY region
    UNION ALL
    SELECT 'channel_daily' AS report, region, sum(appearances) AS n, sum(total_views) AS total_views
    FROM {{ run_table('channel_daily') }}
    GROUP BY region
    UNION ALL
    SELECT 'days_to_trend_daily' AS report, region, sum(videos) AS n, CAST(NULL AS bigint) AS total_views
    FROM {{ run_table('days_to_trend_daily') }}
    GROUP BY region
),
expected AS (
    SELECT r.report, s.region,
        CASE WHEN r.report = 'days_to_trend_daily' THEN s.timed_videos ELSE s.trending_rows END AS n,
        CASE WHEN r.report = 'days_to_trend_daily' THEN CAST(NULL AS bigint) ELSE s.total_views END AS total_views
    FROM source AS s
    CROSS JOIN (
        SELECT 'category_daily' AS report UNION ALL SELECT 'channel_daily' UNION ALL SELECT 'days_to_trend_daily'
    ) AS r
),
offending AS (
    SELECT coalesce(e.report, r.report) AS report, coalesce(e.region, r.region) AS region,
        e.n AS source_n, r.n AS report_n
    FROM expected AS e
    FULL OUTER JOIN reported AS r ON e.report = r.report AND e.region = r.region
    WHERE e.n IS DISTINCT FROM r.n OR e.total_views IS DISTINCT FROM r.total_views
)
SELECT
    count(*) AS failures,
    min(
        report || ': region=' || coalesce(region, 'NULL')
        || ' ' || {{ text_of('source_n') }} || ' vs ' || {{ text_of('report_n') }}
    ) AS example
FROM offending
