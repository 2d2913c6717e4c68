#!/usr/bin/env bash
# ./deploy.sh [start|stop|restart|status]: run the platform on this machine (see scripts/deploy).
set -euo pipefail
cd "$(dirname "$0")"
exec scripts/deploy "${1:-start}"
