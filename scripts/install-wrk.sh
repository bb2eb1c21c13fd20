#!/usr/bin/env bash
# wrk (Debian's package) drives the HTTP benchmarks.
set -euo pipefail
command -v wrk >/dev/null && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
