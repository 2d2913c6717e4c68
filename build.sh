#!/usr/bin/env bash
# Debug build of the four binaries into bin/.
set -euo pipefail
cd "$(dirname "$0")"
exec scripts/build debug
