# The two commands README.md starts with: `make up` and `make test`.
.PHONY: up setup setup-dev test test-fast lint typecheck e2e k8s-check kube control-plane monitoring clean

up: setup
	.venv/bin/cryptopulse up

setup:
	scripts/setup.sh runtime

setup-dev:
	scripts/setup.sh dev

lint: setup-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	cd services/dashboard && npm run --silent lint

typecheck: setup-dev
	.venv/bin/mypy

# Everything: lint, types, dashboard unit tests, and every pytest test including the slow
# end-to-end ones (real Kafka, Spark, uvicorn) and the kube ones (a real kube-apiserver and etcd,
# built once by scripts/install-control-plane.sh). This is what .ci/run calls.
test: lint typecheck control-plane
	cd services/dashboard && npm test --silent
	scripts/check-k8s.sh
	.venv/bin/pytest --ignore=tests/k8s

# The quick loop: no end-to-end tests, no control plane.
test-fast: setup-dev
	.venv/bin/pytest -m "not e2e and not kube" --ignore=tests/k8s

# kube-apiserver and etcd from the Go module proxy, built once into ~/.cache/cryptopulse
# (a first build takes tens of minutes: docs/kubernetes.md).
control-plane:
	scripts/install-control-plane.sh

# The chart installed and upgraded in a real API server (helm from scripts/check-k8s.sh).
kube: setup-dev control-plane
	scripts/check-k8s.sh --install
	.venv/bin/pytest -m kube tests/kube

# The Kubernetes checks alone (installs its tools into ~/.cache/cryptopulse/tools on first use):
# helm lint, helm-unittest, rendered objects vs K8s 1.35 and CRD schemas, pod security, linters.
k8s-check: setup-dev
	scripts/check-k8s.sh

e2e: setup-dev
	.venv/bin/pytest -m e2e --ignore=tests/k8s

# Regenerate the Grafana dashboards, the Prometheus rules file and the generated tables of
# README.md and docs/ from monitoring/ and the metric catalog (a test fails when they are stale).
monitoring: setup-dev
	.venv/bin/python -m cryptopulse_monitoring

clean:
	rm -rf .cryptopulse services/dashboard/dist
