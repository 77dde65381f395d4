#!/bin/bash
# Run the demo (see scripts/demo.py) with Debian's python3, which has gi.
exec /usr/bin/python3 "$(dirname "$0")/demo.py" "$@"
