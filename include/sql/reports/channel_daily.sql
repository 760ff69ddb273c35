{% from 'macros.sql' import ctas, channel_rows, latest_channel_title with context -%}
-- Report: channel_daily
-- Grain: one row per (region, trending_date, channel) — how a channel did on one day's trending list, so that
-- a reader (the dashboard's date range) can rank channels over any range of days by adding up appearances.
-- A channel is keyed like channel_leaderboard: 'id:<channel_id>' where the format has one, else
-- 'title:<channel_title>'; channel_title is the channel's latest title over all days (the one the leaderboard
-- shows), so a renamed channel reads the same on every day.
-- Not partitioned (regions x days x channels of the day's list).
{{ ctas('channel_daily') }}
WITH keyed AS (
    {{ channel_rows() }}
),
names AS (
    SELECT
        region,
        channel_key,
        {{ latest_channel_title() }} AS channel_title
    FROM keyed
    GROUP BY region, channel_key
)
SELECT
    k.region,
    k.trending_date,
    k.channel_key,
    max(k.channel_id) AS channel_id,
    max(n.channel_title) AS channel_title,
    count(*) AS appearances,
    sum(k.views) AS total_views
FROM keyed AS k
JOIN names AS n ON k.region = n.region AND k.channel_key = n.channel_key
GROUP BY k.region, k.trending_date, k.channel_key
