#!/usr/bin/env bash
# ./deploy.sh [start|stop|restart|status|logs [PROCESS]|backup [DIR]|restore DIR]: run the platform
# on this machine (see scripts/deploy).
set -euo pipefail
exec "$(dirname "$0")/scripts/deploy" "$@"
