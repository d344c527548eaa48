#!/bin/bash
# In the manner of the nginx and postgres images' entrypoints: initialise the volume on
# first start, run any /docker-entrypoint.d scripts, then exec the server as PID 1.
set -euo pipefail
if [ "${1:-}" = serve ]; then
	if [ ! -e /data/index.html ]; then
		cp -r /usr/share/site/. /data/
	fi
	for f in /docker-entrypoint.d/*.sh; do
		[ -e "$f" ] && . "$f"
	done
	shift
	exec python3 -m http.server --directory /data "$@"
fi
exec "$@"
