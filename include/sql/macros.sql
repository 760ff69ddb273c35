{#-
  What the reports and checks share, written once. Import with context (the macros read the caller's
  ``params`` and ``run_id``; ``settings`` and ``safe_run_id`` are the DAG's user_defined_macros):
      {% from 'macros.sql' import ctas, channel_key with context -%}
  Resolved through the same search path as the reports (``template_searchpath`` = the sql folder; on MWAA
  ``dags/sql``), so Airflow's AthenaOperator and youtube_etl.reports.render_sql render identical SQL.
-#}

{#- The analytics table every report and check reads. -#}
{%- macro analytics_table() -%}
{{ settings.analytics_database }}.{{ settings.analytics_table }}
{%- endmacro %}

{#- This run's table of a report: a CTAS can neither reuse a table name nor write into a non-empty folder,
    so every run gets ``<report>__<safe run id>`` (youtube_etl.reports.report_table) of its own. -#}
{%- macro run_table(report) -%}
{{ settings.analytics_database }}.{{ report }}__{{ safe_run_id(run_id) }}
{%- endmacro %}

{#- The CTAS header of a report: Parquet (Snappy) into this run's own folder under reports_uri, partitioned
    only by low-cardinality columns (Athena writes at most 100 partitions per CTAS; they must come last). -#}
{%- macro ctas(report, partitioned_by=()) -%}
CREATE TABLE {{ run_table(report) }}
WITH (
    format = 'PARQUET',
    write_compression = 'SNAPPY',
    external_location = '{{ settings.reports_uri }}{{ report }}/run={{ safe_run_id(run_id) }}/'
    {%- if partitioned_by %},
    partitioned_by = ARRAY[{% for column in partitioned_by %}'{{ column }}'{{ ", " if not loop.last }}{% endfor %}]
    {%- endif %}
) AS
{%- endmacro %}

{#- A channel: 'id:<channel_id>' where the format has one (the rsrishav files), so two channels sharing a
    title stay apart and a renamed channel stays one; else 'title:<channel_title>' (the Kaggle format has no
    channel_id). channel_leaderboard, channel_daily, the channel counts and their check all use this key. -#}
{%- macro channel_key() -%}
coalesce('id:' || channel_id, 'title:' || channel_title, 'none')
{%- endmacro %}

{#- The rows of the analytics table keyed by channel (the CTE both channel reports build on). -#}
{%- macro channel_rows() -%}
SELECT
        region,
        {{ channel_key() }} AS channel_key,
        channel_id,
        channel_title,
        video_id,
        views,
        chart_rank,
        trending_date
    FROM {{ analytics_table() }}
{%- endmacro %}

{#- A channel's latest title: on its last trending day, the greatest title when it had two that day (the ISO
    date first, so the text orders by day, then by title — deterministic on any engine). -#}
{%- macro latest_channel_title() -%}
max_by(channel_title, CAST(trending_date AS varchar) || channel_title)
{%- endmacro %}

{#- Each video's trending days with a known days_to_trend, numbered from its first day in the region
    (day_number = 1): days_to_trend and days_to_trend_daily count a video once, on that day. -#}
{%- macro first_trending(columns) -%}
SELECT
        region,
{%- for column in columns %}
        {{ column }},
{%- endfor %}
        row_number() OVER (PARTITION BY region, video_id ORDER BY trending_date) AS day_number
    FROM {{ analytics_table() }}
    WHERE days_to_trend IS NOT NULL
{%- endmacro %}

{#- A value in a check's example text: NULL spelled out, so an absent side of a comparison shows. -#}
{%- macro text_of(value) -%}
coalesce(CAST({{ value }} AS varchar), 'NULL')
{%- endmacro %}

{#- Which row a source check's example names; with ``source``, after the column naming its table. -#}
{%- macro row_named(source=none) -%}
{% if source %}{{ source }} || ': {% else %}'{% endif %}region=' || coalesce(region, 'NULL') || ' video_id=' || coalesce(video_id, 'NULL')
        || ' trending_date=' || {{ text_of('trending_date') }}
{%- endmacro %}

{#- The cleaned statistics table the source checks compare with the analytics table. -#}
{%- macro statistics_table() -%}
{{ settings.processed_database }}.{{ settings.statistics_table }}
{%- endmacro %}

{#- The keys of the analytics and statistics rows that meet ``condition``, each named by its table (source). -#}
{%- macro key_rows_where(condition) -%}
SELECT '{{ settings.analytics_table }}' AS source, region, video_id, trending_date
    FROM {{ analytics_table() }}
    WHERE {{ condition }}
    UNION ALL
    SELECT '{{ settings.statistics_table }}' AS source, region, video_id, trending_date
    FROM {{ statistics_table() }}
    WHERE {{ condition }}
{%- endmacro %}
