#!/usr/bin/env bash
# The front end's tools (Vite 7, jsdom) need Node.js 20.19+ or 22.12+.
# Installs Debian's nodejs when node is missing, then says clearly if it is too old.
set -euo pipefail
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || "$(dirname "$0")/install-packages.sh" nodejs npm
version=$(node -p 'process.versions.node')
IFS=. read -r major minor _ <<<"$version"
if { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; } || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; } || [ "$major" -ge 23 ]; then
    exit 0
fi
echo "Node.js $version is too old for the front end's tools: install Node.js 20.19+ or 22.12+ (e.g. from NodeSource) and run make again." >&2
exit 1
