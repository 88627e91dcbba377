#!/usr/bin/env bash
# Start the course's JupyterHub: the one start-up command (see docs/jupyterhub.md).
#
#   sudo deploy/jupyterhub/start.sh
#
# Runs as root (the local process spawner starts each user's server as that Unix user).
# Reads settings from /etc/pixels-to-poets/hub.env if it exists (COURSE_HUB_INSTRUCTORS,
# COURSE_HUB_STUDENTS, COURSE_HUB_EXCHANGE, COURSE_GRADEBOOK_URL_FILE); COURSE_HUB_CONFIG picks
# another configuration file (the hub test uses localtest_config.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -f /etc/pixels-to-poets/hub.env ] && [ -z "${COURSE_HUB_STATE:-}" ]; then
  set -a; . /etc/pixels-to-poets/hub.env; set +a
fi
# configurable-http-proxy: on PATH, or installed by .ci/run into .ci/node.
export PATH="$here/../../.ci/node/node_modules/.bin:$PATH"
command -v configurable-http-proxy >/dev/null || {
  echo "configurable-http-proxy not found: npm install --prefix .ci/node configurable-http-proxy" >&2; exit 1; }
python="${COURSE_HUB_PYTHON:-python3}"
config="${COURSE_HUB_CONFIG:-$here/jupyterhub_config.py}"
[ -n "${COURSE_HUB_STATE:-}" ] || mkdir -p -m 700 /srv/jupyterhub
"$python" "$here/course_hub.py" prepare
exec "$python" -m jupyterhub -f "$config"
