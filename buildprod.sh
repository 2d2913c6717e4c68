#!/usr/bin/env bash
# Release build of the four binaries into bin/, with .env.example. The templates and static assets
# are compiled into web, so bin/ needs no templates/.
set -euo pipefail
cd "$(dirname "$0")"
exec scripts/build release
