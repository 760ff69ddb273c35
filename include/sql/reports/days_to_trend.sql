{% from 'macros.sql' import ctas, first_trending with context -%}
-- Report: days_to_trend
-- Grain: one row per (region, category_id) — how many days after publication videos first trended in the
-- region. Each video counts once, with the category and days_to_trend of its first trending day.
-- Percentiles are exact nearest-rank (the smallest value with at least p of the videos at or below it), not
-- approx_percentile, so they are reproducible on any engine.
-- category_title_source says where the title came from: 'region' (the region's own category file),
-- 'other_region' (the id is missing there; the title another region's file gives it) or 'unknown'.
-- Small: not partitioned.
{{ ctas('days_to_trend') }}
WITH first_trending AS (
    {{ first_trending(['video_id', 'category_id', 'category_title', 'category_title_source', 'days_to_trend']) }}
),
ordered AS (
    SELECT
        region,
        category_id,
        category_title,
        category_title_source,
        days_to_trend,
        row_number() OVER (PARTITION BY region, category_id ORDER BY days_to_trend) AS rank_in_category,
        count(*) OVER (PARTITION BY region, category_id) AS videos
    FROM first_trending
    WHERE day_number = 1
)
SELECT
    region,
    category_id,
    max(category_title) AS category_title,
    max(category_title_source) AS category_title_source,
    max(videos) AS videos,
    min(days_to_trend) AS min_days,
    min(CASE WHEN rank_in_category >= ceil(0.5 * videos) THEN days_to_trend END) AS p50_days,
    min(CASE WHEN rank_in_category >= ceil(0.9 * videos) THEN days_to_trend END) AS p90_days,
    max(days_to_trend) AS max_days,
    -- An exact integer sum, so re-runs are identical whatever order the rows are added in.
    CAST(sum(days_to_trend) AS double) / count(days_to_trend) AS avg_days,
    count_if(days_to_trend <= 1) AS trended_within_1_day
FROM ordered
GROUP BY region, category_id
