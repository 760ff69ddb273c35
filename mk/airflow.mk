# Local Airflow UI against the embedded local AWS runtime (127.0.0.1 only).
.PHONY: airflow
airflow: install ## Airflow UI (api-server, scheduler, dag-processor, triggerer) + local AWS runtime with the sample data
	$(PY) -m local.airflow_ui --data "$(if $(filter-out $(QUICKSTART),$(DATA)),$(DATA),$(SAMPLE))"
