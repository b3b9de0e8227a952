# The README's quick start: `make test` installs what is missing and runs the whole suite.
.PHONY: test install control-plane-binaries lint typecheck unit generate

node_modules/.installed: package.json package-lock.json
	npm ci
	@touch $@

install: node_modules/.installed control-plane-binaries

control-plane-binaries:
	@bash hack/build-control-plane.sh >/dev/null

generate: node_modules/.installed
	npm run generate

lint: node_modules/.installed
	npm run lint

typecheck: node_modules/.installed
	npm run typecheck

unit: node_modules/.installed
	npm run test:unit

test: install lint typecheck
	npm test
