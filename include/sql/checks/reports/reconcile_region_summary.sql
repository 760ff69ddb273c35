-- Check: reconcile_region_summary
-- Fails for each region where this run's region_summary disagrees with the analytics table on row count or
-- trending views (region_summary is the baseline of row_count_drop, so it must be exact).
WITH source AS (
    SELECT region, count(*) AS trending_rows, sum(views) AS total_views
    FROM {{ params.analytics_database }}.{{ params.analytics_table }}
    GROUP BY region
),
report AS (
    SELECT region, trending_rows, total_views
    FROM {{ params.analytics_database }}.region_summary__{{ safe_run_id(run_id) }}
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
        || ' rows ' || coalesce(CAST(source_rows AS varchar), 'NULL') || ' vs ' || coalesce(CAST(report_rows AS varchar), 'NULL')
    ) AS example
FROM offending
