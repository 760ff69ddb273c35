{% from 'macros.sql' import ctas, channel_rows, latest_channel_title with context -%}
-- Report: channel_leaderboard
-- Grain: one row per (region, channel) — every channel that trended in the region, ranked by trending
-- appearances (video x day rows), then distinct videos, then peak views, then the channel's key.
-- A channel is its channel_id where the format has one (the rsrishav files): two channels that share a title
-- stay apart and a renamed channel stays one. The older Kaggle format has no channel_id (null), so there the
-- title is the key. channel_title is the channel's latest title (on its last trending day; the greatest title
-- when it had two that day) and titles counts the titles it trended under.
-- peak_views sums each distinct video's highest view count (views are cumulative, so summing every day would
-- count a video's audience several times).
-- best_chart_rank is the best position (1 = top) any of its videos reached on the region's mostPopular chart:
-- only rows from the YouTube Data API's pages have a chart_rank, so it is null for a channel seen in the Kaggle
-- files only. It tells a channel that tops the chart from one that trends often lower down.
-- Keep every channel (not only the top) so the report reconciles with its source; filter on channel_rank.
-- Small: not partitioned.
{{ ctas('channel_leaderboard') }}
WITH keyed AS (
    {{ channel_rows() }}
),
per_video AS (
    SELECT
        region,
        channel_key,
        video_id,
        count(*) AS appearances,
        max(views) AS peak_views,
        min(chart_rank) AS best_chart_rank,
        min(trending_date) AS first_trending_date,
        max(trending_date) AS last_trending_date
    FROM keyed
    GROUP BY region, channel_key, video_id
),
per_channel AS (
    SELECT
        region,
        channel_key,
        sum(appearances) AS appearances,
        count(*) AS videos,
        sum(peak_views) AS peak_views,
        min(best_chart_rank) AS best_chart_rank,
        min(first_trending_date) AS first_trending_date,
        max(last_trending_date) AS last_trending_date
    FROM per_video
    GROUP BY region, channel_key
),
names AS (
    SELECT
        region,
        channel_key,
        max(channel_id) AS channel_id,
        -- ISO date first, so the text orders by day, then by title: the latest title, deterministically.
        {{ latest_channel_title() }} AS channel_title,
        count(DISTINCT channel_title) AS titles
    FROM keyed
    GROUP BY region, channel_key
)
SELECT
    c.region,
    CAST(row_number() OVER (
        PARTITION BY c.region ORDER BY c.appearances DESC, c.videos DESC, c.peak_views DESC, c.channel_key
    ) AS integer) AS channel_rank,
    n.channel_id,
    n.channel_title,
    n.titles,
    c.appearances,
    c.videos,
    c.peak_views,
    CAST(c.best_chart_rank AS integer) AS best_chart_rank,
    c.first_trending_date,
    c.last_trending_date
FROM per_channel AS c
JOIN names AS n ON c.region = n.region AND c.channel_key = n.channel_key
