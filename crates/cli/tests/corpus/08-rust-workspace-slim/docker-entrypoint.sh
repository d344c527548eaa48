#!/bin/sh
# As the official images' entrypoints: a first argument that is a flag or a file goes
# to the program; anything else is run as a command.
set -e
if [ "${1#-}" != "$1" ] || [ -f "$1" ]; then
	set -- rwc "$@"
fi
exec "$@"
