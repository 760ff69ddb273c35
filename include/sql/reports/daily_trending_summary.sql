{#- A day shorter than this fraction of the region's typical list, at the end of a source file, is partial. -#}
{%- set partial_day_ratio = 0.95 -%}
{%- from 'macros.sql' import ctas, analytics_table, channel_key with context -%}
-- Report: daily_trending_summary
-- Grain: one row per (region, trending_date) — the size and reach of that day's trending list.
-- new_entrants are videos trending in the region for the first time that day (on a region's first day in the
-- data every video is a new entrant); returning_videos trended there on an earlier day.
-- typical_videos is the region's median list size (nearest rank over its days). is_partial_day flags a day
-- the source cut short, so that it is not read as a real drop: the last trending day of a source file (its
-- records end there) with fewer than {{ partial_day_ratio }} x typical_videos videos — e.g. a file that ends
-- mid-day after 162 of 200 videos. Other short days (a region whose lists are always shorter, a day that lost
-- a duplicate) are real data and not flagged.
-- Small (regions x days, well over 100 distinct dates in the full data): not partitioned.
{{ ctas('daily_trending_summary') }}
WITH flagged AS (
    SELECT
        region,
        trending_date,
        video_id,
        -- Channels by channel_leaderboard's key: the channel_id where the format has one, else the title.
        {{ channel_key() }} AS channel_key,
        source_file,
        views,
        likes,
        comment_count,
        engagement_rate,
        trending_date = min(trending_date) OVER (PARTITION BY region, video_id) AS is_new
    FROM {{ analytics_table() }}
),
days AS (
    SELECT
        region,
        trending_date,
        count(DISTINCT video_id) AS videos,
        count_if(is_new) AS new_entrants,
        count(DISTINCT channel_key) AS channels,
        sum(views) AS total_views,
        sum(likes) AS total_likes,
        sum(comment_count) AS total_comments,
        -- Rounded far below any displayed precision so re-runs are identical (double sums depend on row order).
        round(avg(engagement_rate), 12) AS avg_engagement_rate
    FROM flagged
    GROUP BY region, trending_date
),
file_ends AS (
    SELECT DISTINCT region, max(trending_date) AS trending_date
    FROM flagged
    GROUP BY region, source_file
),
ranked AS (
    SELECT
        region,
        videos,
        row_number() OVER (PARTITION BY region ORDER BY videos) AS rank_in_region,
        count(*) OVER (PARTITION BY region) AS region_days
    FROM days
),
typical AS (
    SELECT region, min(CASE WHEN rank_in_region >= ceil(0.5 * region_days) THEN videos END) AS typical_videos
    FROM ranked
    GROUP BY region
)
SELECT
    d.region,
    d.trending_date,
    d.videos,
    d.new_entrants,
    d.videos - d.new_entrants AS returning_videos,
    d.channels,
    d.total_views,
    d.total_likes,
    d.total_comments,
    d.avg_engagement_rate,
    t.typical_videos,
    (e.trending_date IS NOT NULL AND d.videos < {{ partial_day_ratio }} * t.typical_videos) AS is_partial_day
FROM days AS d
JOIN typical AS t ON d.region = t.region
LEFT JOIN file_ends AS e ON d.region = e.region AND d.trending_date = e.trending_date
