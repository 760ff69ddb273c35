{% from 'macros.sql' import ctas, analytics_table, channel_key with context -%}
-- Report: region_summary
-- Grain: one row per region — the size of each region's trending data in this run. It is also the baseline
-- of the row_count_drop check: the stable view region_summary still shows the previous run until this run's
-- checks pass and the views are swapped.
-- Tiny: not partitioned.
{{ ctas('region_summary') }}
SELECT
    region,
    count(*) AS trending_rows,
    count(DISTINCT video_id) AS videos,
    -- Channels by channel_leaderboard's key: the channel_id where the format has one, else the title.
    count(DISTINCT {{ channel_key() }}) AS channels,
    count(DISTINCT trending_date) AS trending_days,
    min(trending_date) AS first_trending_date,
    max(trending_date) AS last_trending_date,
    sum(views) AS total_views,
    count_if(comments_disabled) AS comments_disabled_rows,
    count_if(ratings_disabled) AS ratings_disabled_rows,
    count_if(video_error_or_removed) AS removed_rows
FROM {{ analytics_table() }}
GROUP BY region
