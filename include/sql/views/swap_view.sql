{% from 'macros.sql' import run_table with context -%}
-- Point the stable view of a report at one run's table. Readers (QuickSight, the local dashboard) query the
-- view, never a run table, so they never see a half-built or unchecked run; CREATE OR REPLACE VIEW swaps
-- atomically in the Glue catalog. params.report is the report (and view) name.
CREATE OR REPLACE VIEW {{ settings.analytics_database }}.{{ params.report }} AS
SELECT * FROM {{ run_table(params.report) }}
