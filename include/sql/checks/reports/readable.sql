{% from 'macros.sql' import run_table with context -%}
-- Check: readable_<report> (one task per report: youtube_etl.reports.PER_REPORT_CHECKS)
-- Reads every value of every column of this run's {{ params.report }} table — `columns` is the table as the
-- Glue catalog registered it, looked up when the task runs: what the view's SELECT * will expose — so a report
-- that cannot be read end to end is never published. Fails for each row holding a text value that is not
-- valid UTF-8: Trino does not validate strings it reads from Parquet, and from_utf8 replaces invalid bytes,
-- so the round trip differs from the value only for those. The example names each such column with its count.
-- A value that cannot be read at all fails the query, and the task names the report. Every column is counted
-- into values_read, so no column can be pruned from the scan (count(*) alone reads none).
{%- set table = run_table(params.report) %}
{%- set text_columns = columns | selectattr('is_text') | list %}
{%- macro invalid(column) %}from_utf8(to_utf8("{{ column.name }}")) <> "{{ column.name }}"{% endmacro %}
WITH counted AS (
    SELECT
        count(*) AS row_count,
{%- for column in columns %}
        count("{{ column.name }}") AS values_{{ loop.index }},
{%- endfor %}
{%- for column in text_columns %}
        count_if({{ invalid(column) }}) AS invalid_{{ loop.index }},
{%- endfor %}
        count_if(false{% for column in text_columns %} OR {{ invalid(column) }}{% endfor %}) AS invalid_rows
    FROM {{ table }}
)
SELECT
    invalid_rows AS failures,
    {%- if text_columns %}
    concat_ws('; '
    {%- for column in text_columns %},
        CASE WHEN invalid_{{ loop.index }} > 0 THEN '{{ params.report }}.{{ column.name }}: '
            || CAST(invalid_{{ loop.index }} AS varchar) || ' of ' || CAST(row_count AS varchar)
            || ' values are not valid UTF-8' END
    {%- endfor %}
    ) AS example,
    {%- else %}
    '' AS example,
    {%- endif %}
    {% for column in columns %}values_{{ loop.index }}{{ " + " if not loop.last }}{% endfor %} AS values_read
FROM counted
