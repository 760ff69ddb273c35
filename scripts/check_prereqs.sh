#!/usr/bin/env bash
# What a fresh machine needs before `make run` / `make test`: Python 3.11+ and Java 17+ (for Spark).
set -u
fail=0
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "error: Python 3.11 or newer is required as '$py' (found: $("$py" --version 2>&1 || echo none))." >&2
  fail=1
fi
if ! command -v java >/dev/null 2>&1; then
  echo "error: Java 17 or newer is required for the local Glue (Spark) jobs; 'java' is not on PATH." >&2
  echo "       On Debian/Ubuntu: apt-get install openjdk-17-jre-headless" >&2
  fail=1
else
  major=$(java -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    echo "error: Java 17 or newer is required for Spark 3.5 (found: $(java -version 2>&1 | head -1))." >&2
    fail=1
  fi
fi
exit $fail
