{% from 'macros.sql' import analytics_table, run_table, text_of with context -%}
-- Check: reconcile_category_performance
-- Fails for each region where this run's category_performance does not add up to the analytics table:
-- trending rows and trending views summed over categories must equal the region's, and views_share must
-- sum to 1.
WITH source AS (
    SELECT region, count(*) AS trending_rows, sum(views) AS total_views
    FROM {{ analytics_table() }}
    GROUP BY region
),
report AS (
    SELECT region, sum(trending_rows) AS trending_rows, sum(total_views) AS total_views,
        sum(views_share) AS views_share
    FROM {{ run_table('category_performance') }}
    GROUP BY region
),
offending AS (
    SELECT
        coalesce(s.region, r.region) AS region,
        s.trending_rows AS source_rows, r.trending_rows AS report_rows,
        s.total_views AS source_views, r.total_views AS report_views, r.views_share
    FROM source AS s
    FULL OUTER JOIN report AS r ON s.region = r.region
    WHERE s.trending_rows IS DISTINCT FROM r.trending_rows
        OR s.total_views IS DISTINCT FROM r.total_views
        OR (coalesce(s.total_views, 0) > 0 AND abs(coalesce(r.views_share, 0) - 1) > 1e-9)
)
SELECT
    count(*) AS failures,
    min(
        'region=' || coalesce(region, 'NULL')
        || ' rows ' || {{ text_of('source_rows') }} || ' vs ' || {{ text_of('report_rows') }}
        || ', views ' || {{ text_of('source_views') }} || ' vs ' || {{ text_of('report_views') }}
    ) AS example
FROM offending
