{% from 'macros.sql' import analytics_table, run_table, text_of with context -%}
-- Check: reconcile_region_summary
-- Fails for each region where this run's region_summary disagrees with the analytics table on row count or
-- trending views (region_summary is the baseline of row_count_drop, so it must be exact).
WITH source AS (
    SELECT region, count(*) AS trending_rows, sum(views) AS total_views
    FROM {{ analytics_table() }}
    GROUP BY region
),
report AS (
    SELECT region, trending_rows, total_views
    FROM {{ run_table('region_summary') }}
),
offending AS (
    SELECT coalesce(s.region, r.region) AS region, s.trending_rows AS source_rows, r.trending_rows AS report_rows
    FROM source AS s
    FULL OUTER JOIN report AS r ON s.region = r.region
    WHERE s.trending_rows IS DISTINCT FROM r.trending_rows OR s.total_views IS DISTINCT FROM r.total_views
)
SELECT
    count(*) AS failures,
    min(
        'region=' || coalesce(region, 'NULL')
        || ' rows ' || {{ text_of('source_rows') }} || ' vs ' || {{ text_of('report_rows') }}
    ) AS example
FROM offending
