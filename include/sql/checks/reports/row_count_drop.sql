{% from 'macros.sql' import run_table with context -%}
-- Check: row_count_drop
-- Fails for each region whose trending row count in this run fell by more than
-- {{ settings.row_drop_threshold }} (a fraction) below the previous published run, or that disappeared.
-- The baseline is the stable view region_summary, which still shows the previous run: views are swapped
-- only after every check passed. On the very first run there is no view yet, so the pipeline skips this
-- check (see youtube_etl.reports.BASELINE_VIEWS).
WITH previous AS (
    SELECT region, trending_rows FROM {{ settings.analytics_database }}.region_summary
),
current_run AS (
    SELECT region, trending_rows
    FROM {{ run_table('region_summary') }}
),
offending AS (
    SELECT p.region, p.trending_rows AS previous_rows, coalesce(c.trending_rows, 0) AS current_rows
    FROM previous AS p
    LEFT JOIN current_run AS c ON p.region = c.region
    WHERE coalesce(c.trending_rows, 0) < p.trending_rows * (1 - {{ settings.row_drop_threshold }})
)
SELECT
    count(*) AS failures,
    min(
        'region=' || region || ' rows ' || CAST(previous_rows AS varchar) || ' -> ' || CAST(current_rows AS varchar)
    ) AS example
FROM offending
