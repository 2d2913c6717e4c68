#!/usr/bin/env bash
# Release build of the four binaries into bin/, with templates/ (static assets) and .env.example.
set -euo pipefail
cd "$(dirname "$0")"
exec scripts/build release
