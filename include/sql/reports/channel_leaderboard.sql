-- Report: channel_leaderboard
-- Grain: one row per (region, channel_title) — every channel that trended in the region, ranked by trending
-- appearances (video x day rows), then distinct videos, then peak views. channel_id is null for the older
-- Kaggle format, so the channel title is the key. peak_views sums each distinct video's highest view count
-- (views are cumulative, so summing every day would count a video's audience several times).
-- Keep every channel (not only the top) so the report reconciles with its source; filter on channel_rank.
-- Small: not partitioned.
CREATE TABLE {{ params.analytics_database }}.channel_leaderboard__{{ safe_run_id(run_id) }}
WITH (
    format = 'PARQUET',
    write_compression = 'SNAPPY',
    external_location = '{{ params.reports_uri }}channel_leaderboard/run={{ safe_run_id(run_id) }}/'
) AS
WITH per_video AS (
    SELECT
        region,
        channel_title,
        video_id,
        max(channel_id) AS channel_id,
        count(*) AS appearances,
        max(views) AS peak_views,
        min(trending_date) AS first_trending_date,
        max(trending_date) AS last_trending_date
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    GROUP BY region, channel_title, video_id
),
per_channel AS (
    SELECT
        region,
        channel_title,
        max(channel_id) AS channel_id,
        sum(appearances) AS appearances,
        count(*) AS videos,
        sum(peak_views) AS peak_views,
        min(first_trending_date) AS first_trending_date,
        max(last_trending_date) AS last_trending_date
    FROM per_video
    GROUP BY region, channel_title
)
SELECT
    region,
    CAST(row_number() OVER (
        PARTITION BY region ORDER BY appearances DESC, videos DESC, peak_views DESC, channel_title
    ) AS integer) AS channel_rank,
    channel_title,
    channel_id,
    appearances,
    videos,
    peak_views,
    first_trending_date,
    last_trending_date
FROM per_channel
