{% from 'macros.sql' import analytics_table, statistics_table, row_named with context -%}
-- Check: statistics_joined
-- Fails unless every cleaned statistics row has exactly one analytics row with the same key and vice versa
-- (the join with the category reference neither dropped nor multiplied rows). failures is the number of
-- rows by which the two tables differ, key by key; rows with a null key never match and always count.
-- The analytics table is a snapshot: youtube_ingest may publish statistics while this run checks (a
-- backfill's next day, a late drop). A statistics row only in the statistics table counts when its source
-- file is one the analytics table was built from; rows of source files the snapshot has none of are newer
-- than it and are checked by the reporting run that ingest's asset event queues. A key whose row a newer
-- file replaced is still one row on each side.
WITH built_from AS (
    SELECT DISTINCT source_file
    FROM {{ analytics_table() }}
),
stats AS (
    SELECT s.region, s.video_id, s.trending_date, count(*) AS n, count(b.source_file) AS built
    FROM {{ statistics_table() }} AS s
    LEFT JOIN built_from AS b ON s.source_file = b.source_file
    GROUP BY s.region, s.video_id, s.trending_date
),
trending AS (
    SELECT region, video_id, trending_date, count(*) AS n
    FROM {{ analytics_table() }}
    GROUP BY region, video_id, trending_date
),
compared AS (
    SELECT
        coalesce(s.region, t.region) AS region,
        coalesce(s.video_id, t.video_id) AS video_id,
        coalesce(s.trending_date, t.trending_date) AS trending_date,
        coalesce(s.n, 0) AS statistics_rows,
        coalesce(s.built, 0) AS built_rows,
        coalesce(t.n, 0) AS analytics_rows
    FROM stats AS s
    FULL OUTER JOIN trending AS t
        ON s.region = t.region AND s.video_id = t.video_id AND s.trending_date = t.trending_date
)
SELECT
    CAST(coalesce(sum(abs(statistics_rows - analytics_rows)), 0) AS bigint) AS failures,
    min(
        {{ row_named() }}
        || ' statistics=' || CAST(statistics_rows AS varchar) || ' analytics=' || CAST(analytics_rows AS varchar)
    ) AS example
FROM compared
WHERE statistics_rows <> analytics_rows AND (analytics_rows > 0 OR built_rows > 0)
