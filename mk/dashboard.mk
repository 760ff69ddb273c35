# Dashboard: one self-contained HTML file of the report views (dashboard/), read through Athena.
DASHBOARD_OUT ?= out/dashboard.html

.PHONY: dashboard
dashboard: install ## HTML dashboard of the report views (DASHBOARD_OUT=out/dashboard.html; Athena from settings/env)
	$(PY) -m dashboard --out "$(DASHBOARD_OUT)"

.PHONY: chromium
chromium: ## Install Debian's chromium for the dashboard's browser test (apt-get; no-op when present)
	bash scripts/install_chromium.sh
