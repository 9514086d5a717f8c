#!/usr/bin/env bash
# Installs the offline validators the deploy tests use, once; running it again does nothing.
#   promtool - from Debian's `prometheus` package (prometheus rule unit tests; its
#              `prometheus` binary is make run's live Prometheus and the alert tests')
#   kubectl  - from Debian's `kubectl`/`kubernetes-client` package (`kubectl kustomize` renders)
# `install_tools.sh prometheus` installs only the prometheus package (make run).
# Python validators (kubernetes-validate, jsonschema, pyyaml) come from uv.lock's dev group.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ "${1:-}" = "prometheus" ]; then :
elif ! command -v kubectl >/dev/null 2>&1; then
  if apt-cache show kubectl >/dev/null 2>&1; then need+=(kubectl); else need+=(kubernetes-client); fi
fi
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing ${need[*]} (Debian packages) for the deploy tests..."
$SUDO apt-get update -qq
# The prometheus package's own service must not start: only its promtool binary is used.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
command -v promtool >/dev/null && command -v prometheus >/dev/null
[ "${1:-}" = "prometheus" ] || command -v kubectl >/dev/null
