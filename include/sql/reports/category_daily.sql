{% from 'macros.sql' import ctas, analytics_table with context -%}
-- Report: category_daily
-- Grain: one row per (region, trending_date, category_id) — category_performance for one day, so that a
-- reader (the dashboard's date range) can add up any range of days: only sums and counts, an average over a
-- range is its sum divided by its count (engagement_rate_sum / engagement_rate_rows).
-- category_title_source: 'region', 'other_region' (title borrowed from another region's file) or 'unknown'.
-- Not partitioned (regions x days x ~30 categories; a date partition would pass Athena's 100 limit).
{{ ctas('category_daily') }}
SELECT
    region,
    trending_date,
    category_id,
    max(category_title) AS category_title,
    max(category_title_source) AS category_title_source,
    count(*) AS trending_rows,
    sum(views) AS total_views,
    sum(likes) AS total_likes,
    sum(comment_count) AS total_comments,
    -- Rounded far below any displayed precision so re-runs are identical (double sums depend on row order);
    -- a day without a defined rate sums to 0 over 0 rows, so any range still adds up.
    coalesce(round(sum(engagement_rate), 12), 0) AS engagement_rate_sum,
    count(engagement_rate) AS engagement_rate_rows,
    coalesce(round(sum(like_ratio), 12), 0) AS like_ratio_sum,
    count(like_ratio) AS like_ratio_rows
FROM {{ analytics_table() }}
GROUP BY region, trending_date, category_id
