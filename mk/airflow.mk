# Local Airflow UI against the embedded local AWS runtime (127.0.0.1 only).
.PHONY: airflow
airflow: install spark-classes ## Airflow UI (api-server, scheduler, dag-processor, triggerer) + local AWS runtime with the sample data (DATA=folder)
ifeq ($(patsubst %/,%,$(DATA)),$(QUICKSTART))
	$(PY) -m local.drops --source "$(SAMPLE)" --out "$(QUICKSTART)"
endif
	$(PY) -m local.airflow_ui --data "$(or $(DATA),$(SAMPLE))"
