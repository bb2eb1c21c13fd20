#!/usr/bin/env bash
# Installs axe-core from npm (pinned by package-lock.json) for the browser suite's
# accessibility checks, unless the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
wanted=$(node -p "require('./package-lock.json').packages['node_modules/axe-core'].version")
installed=$(node -p "try { require('./node_modules/axe-core/package.json').version } catch (e) { '' }")
if [ "$wanted" = "$installed" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --silent
echo "axe-core $(node -p "require('./node_modules/axe-core/package.json').version")"
