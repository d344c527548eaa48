echo "docker-entrypoint.d: site in /data" >&2
