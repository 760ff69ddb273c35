{% from 'macros.sql' import ctas, analytics_table with context -%}
-- Report: category_performance
-- Grain: one row per (region, category_id) over every trending row of the region. "Trending views" sum the
-- views of every (video, trending day) row, so a video counts once per day it trends; views_share is the
-- category's part of the region's trending views (the shares of a region sum to 1).
-- category_title_source says where the title came from: 'region' (the region's own category file),
-- 'other_region' (the id is missing there; the title another region's file gives it) or 'unknown'.
-- Small (regions x ~30 categories): not partitioned.
{{ ctas('category_performance') }}
WITH per_category AS (
    SELECT
        region,
        category_id,
        max(category_title) AS category_title,
        max(category_title_source) AS category_title_source,
        count(DISTINCT video_id) AS videos,
        count(*) AS trending_rows,
        sum(views) AS total_views,
        -- Integer sums are exact whatever order the engine adds rows in; a double avg() is not, and re-runs
        -- must give identical reports. Averages of doubles are rounded far below any displayed precision.
        CAST(sum(views) AS double) / count(*) AS avg_views,
        sum(likes) AS total_likes,
        sum(comment_count) AS total_comments,
        round(avg(engagement_rate), 12) AS avg_engagement_rate,
        round(avg(like_ratio), 12) AS avg_like_ratio
    FROM {{ analytics_table() }}
    GROUP BY region, category_id
)
SELECT
    region,
    category_id,
    category_title,
    category_title_source,
    videos,
    trending_rows,
    total_views,
    avg_views,
    total_likes,
    total_comments,
    avg_engagement_rate,
    avg_like_ratio,
    CAST(total_views AS double) / nullif(sum(total_views) OVER (PARTITION BY region), 0) AS views_share
FROM per_category
