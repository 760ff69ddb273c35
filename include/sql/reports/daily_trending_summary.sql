-- Report: daily_trending_summary
-- Grain: one row per (region, trending_date) — the size and reach of that day's trending list.
-- new_entrants are videos trending in the region for the first time that day (on a region's first day in the
-- data every video is a new entrant); returning_videos trended there on an earlier day.
-- Small (regions x days, well over 100 distinct dates in the full data): not partitioned.
CREATE TABLE {{ params.analytics_database }}.daily_trending_summary__{{ safe_run_id(run_id) }}
WITH (
    format = 'PARQUET',
    write_compression = 'SNAPPY',
    external_location = '{{ params.reports_uri }}daily_trending_summary/run={{ safe_run_id(run_id) }}/'
) AS
WITH flagged AS (
    SELECT
        region,
        trending_date,
        video_id,
        channel_title,
        views,
        likes,
        comment_count,
        engagement_rate,
        trending_date = min(trending_date) OVER (PARTITION BY region, video_id) AS is_new
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
)
SELECT
    region,
    trending_date,
    count(DISTINCT video_id) AS videos,
    count_if(is_new) AS new_entrants,
    count(DISTINCT video_id) - count_if(is_new) AS returning_videos,
    count(DISTINCT channel_title) AS channels,
    sum(views) AS total_views,
    sum(likes) AS total_likes,
    sum(comment_count) AS total_comments,
    -- Rounded far below any displayed precision so re-runs are identical (double sums depend on row order).
    round(avg(engagement_rate), 12) AS avg_engagement_rate
FROM flagged
GROUP BY region, trending_date
