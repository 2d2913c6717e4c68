#!/usr/bin/env bash
# Debug build of the four binaries into bin/, with .env.example (templates are compiled in, as
# for ./buildprod.sh).
set -euo pipefail
cd "$(dirname "$0")"
exec scripts/build debug
