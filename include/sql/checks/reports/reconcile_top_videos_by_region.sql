{% from 'macros.sql' import analytics_table, run_table, text_of with context -%}
-- Check: reconcile_top_videos_by_region
-- Fails for each (region, trending_date) where this run's top_videos_by_region does not hold exactly
-- min(top_n, videos that day) rows ranked 1..n, or where its rank 1 is not the day's most viewed video.
WITH source AS (
    SELECT region, trending_date, least(count(*), {{ settings.top_n }}) AS expected_rows, max(views) AS max_views
    FROM {{ analytics_table() }}
    GROUP BY region, trending_date
),
report AS (
    SELECT region, trending_date, count(*) AS report_rows, count(DISTINCT view_rank) AS ranks,
        max(view_rank) AS max_rank, max(CASE WHEN view_rank = 1 THEN views END) AS top_views
    FROM {{ run_table('top_videos_by_region') }}
    GROUP BY region, trending_date
),
offending AS (
    SELECT
        coalesce(s.region, r.region) AS region,
        CAST(coalesce(s.trending_date, r.trending_date) AS varchar) AS day,
        s.expected_rows, r.report_rows
    FROM source AS s
    FULL OUTER JOIN report AS r ON s.region = r.region AND s.trending_date = r.trending_date
    WHERE s.expected_rows IS DISTINCT FROM r.report_rows
        OR r.ranks IS DISTINCT FROM r.report_rows
        OR CAST(r.max_rank AS bigint) IS DISTINCT FROM r.report_rows
        OR s.max_views IS DISTINCT FROM r.top_views
)
SELECT
    count(*) AS failures,
    min(
        'region=' || coalesce(region, 'NULL') || ' day=' || coalesce(day, 'NULL')
        || ' rows ' || {{ text_of('expected_rows') }} || ' expected vs ' || {{ text_of('report_rows') }}
    ) AS example
FROM offending
