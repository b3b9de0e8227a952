# The README's quick start: `make demo` shows the project at work on an embedded control plane; `make test`
# installs what is missing and runs the whole suite.
.PHONY: demo test install control-plane-binaries promtool image lint typecheck unit generate synth

node_modules/.installed: package.json package-lock.json
	npm ci
	@touch $@

install: node_modules/.installed control-plane-binaries promtool

control-plane-binaries:
	@bash hack/build-control-plane.sh >/dev/null

# Prometheus's rule checker, which the tests of config/monitoring/ run (cdk8s/monitoring*.test.ts).
promtool:
	@bash hack/build-promtool.sh >/dev/null

# The container image (deploy/image/Containerfile) on local base images, with podman, runc and mmdebstrap
# installed where missing: test/e2e/image.e2e.ts runs the sharder from it.
image: node_modules/.installed
	@bash hack/build-image.sh >/dev/null

demo: install
	npm run demo

generate: node_modules/.installed
	npm run generate

synth: node_modules/.installed
	npm run synth

lint: node_modules/.installed
	npm run lint

typecheck: node_modules/.installed
	npm run typecheck

unit: node_modules/.installed
	npm run test:unit

test: install lint typecheck image
	npm test
