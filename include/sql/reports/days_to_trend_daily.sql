{% from 'macros.sql' import ctas, first_trending with context -%}
-- Report: days_to_trend_daily
-- Grain: one row per (region, first trending day, category_id, days_to_trend) — how many videos first trended
-- in the region that day, in that category, that many days after publication. days_to_trend's percentiles
-- over any range of first trending days are nearest-rank over these counts (the dashboard's date range).
-- Each video counts once, on its first trending day in the region, like days_to_trend.
-- Not partitioned.
{{ ctas('days_to_trend_daily') }}
WITH first_trending AS (
    {{ first_trending(['trending_date', 'category_id', 'category_title', 'category_title_source', 'days_to_trend']) }}
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
