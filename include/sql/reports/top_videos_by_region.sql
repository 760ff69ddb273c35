{% from 'macros.sql' import ctas, analytics_table with context -%}
-- Report: top_videos_by_region
-- Grain: one row per (region, trending_date, rank) — the top {{ settings.top_n }} videos by views on each
-- region's trending list that day; ties broken by likes, then video_id, so ranks are stable across runs.
-- category_title_source says where the title came from: 'region' (the region's own category file),
-- 'other_region' (the id is missing there; the title another region's file gives it) or 'unknown'.
-- Partitioned by region only (at most 11 partitions; a date partition would pass Athena's 100 limit).
{{ ctas('top_videos_by_region', partitioned_by=['region']) }}
WITH ranked AS (
    SELECT
        t.*,
        row_number() OVER (
            PARTITION BY t.region, t.trending_date
            ORDER BY t.views DESC, t.likes DESC, t.video_id
        ) AS view_rank
    FROM {{ analytics_table() }} AS t
)
SELECT
    trending_date,
    CAST(view_rank AS integer) AS view_rank,
    video_id,
    title,
    channel_id,
    channel_title,
    category_id,
    category_title,
    category_title_source,
    publish_time,
    days_to_trend,
    views,
    likes,
    dislikes,
    comment_count,
    engagement_rate,
    like_ratio,
    region
FROM ranked
WHERE view_rank <= {{ settings.top_n }}
