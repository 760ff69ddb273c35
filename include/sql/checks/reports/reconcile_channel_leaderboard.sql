{% from 'macros.sql' import analytics_table, run_table, channel_key, text_of with context -%}
-- Check: reconcile_channel_leaderboard
-- Fails for each region where this run's channel_leaderboard does not cover the analytics table: the
-- appearances of all channels must add up to the region's trending rows, there must be one row per channel,
-- and ranks must run 1..channels without gaps. A channel is its channel_id, or its title where the format has
-- no channel_id (the report's key).
WITH source AS (
    SELECT region, count(*) AS trending_rows,
        count(DISTINCT {{ channel_key() }}) AS channels
    FROM {{ analytics_table() }}
    GROUP BY region
),
report AS (
    SELECT region, sum(appearances) AS trending_rows, count(*) AS channels,
        count(DISTINCT channel_rank) AS ranks, max(channel_rank) AS max_rank
    FROM {{ run_table('channel_leaderboard') }}
    GROUP BY region
),
offending AS (
    SELECT
        coalesce(s.region, r.region) AS region,
        s.trending_rows AS source_rows, r.trending_rows AS report_rows,
        s.channels AS source_channels, r.channels AS report_channels
    FROM source AS s
    FULL OUTER JOIN report AS r ON s.region = r.region
    WHERE s.trending_rows IS DISTINCT FROM r.trending_rows
        OR s.channels IS DISTINCT FROM r.channels
        OR r.ranks IS DISTINCT FROM r.channels
        OR CAST(r.max_rank AS bigint) IS DISTINCT FROM r.channels
)
SELECT
    count(*) AS failures,
    min(
        'region=' || coalesce(region, 'NULL')
        || ' appearances ' || {{ text_of('source_rows') }} || ' vs ' || {{ text_of('report_rows') }}
        || ', channels ' || {{ text_of('source_channels') }} || ' vs ' || {{ text_of('report_channels') }}
    ) AS example
FROM offending
