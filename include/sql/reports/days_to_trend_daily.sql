-- Report: days_to_trend_daily
-- Key: region, first_trending_date, category_id, days_to_trend
-- Grain: one row per (region, first trending day, category_id, days_to_trend) — how many videos first trended
-- in the region that day, in that category, that many days after publication. days_to_trend's percentiles
-- over any range of first trending days are nearest-rank over these counts (the dashboard's date range).
-- Each video counts once, on its first trending day in the region, like days_to_trend.
-- Not partitioned.
CREATE TABLE {{ params.analytics_database }}.days_to_trend_daily__{{ safe_run_id(run_id) }}
WITH (
    format = 'PARQUET',
    write_compression = 'SNAPPY',
    external_location = '{{ params.reports_uri }}days_to_trend_daily/run={{ safe_run_id(run_id) }}/'
) AS
WITH first_trending AS (
    SELECT
        region,
        trending_date,
        category_id,
        category_title,
        category_title_source,
        days_to_trend,
        row_number() OVER (PARTITION BY region, video_id ORDER BY trending_date) AS day_number
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    WHERE days_to_trend IS NOT NULL
)
SELECT
    region,
    trending_date AS first_trending_date,
    category_id,
    days_to_trend,
    max(category_title) AS category_title,
    max(category_title_source) AS category_title_source,
    count(*) AS videos
FROM first_trending
WHERE day_number = 1
GROUP BY region, trending_date, category_id, days_to_trend
