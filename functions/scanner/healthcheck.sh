#!/bin/bash
# Healthy when clamd answers PONG on its TCP port (the one the scan handler uses) within 5 seconds
# and freshclam is still running to keep the signatures fresh. Exit 0 healthy, 1 not.
set -u

if ! timeout 5 bash -c '
  exec 3<>/dev/tcp/127.0.0.1/3310 || exit 1
  printf "zPING\0" >&3
  IFS= read -r -d "" reply <&3
  [ "$reply" = PONG ]
'; then
  echo "clamd does not answer PONG on 127.0.0.1:3310" >&2
  exit 1
fi

for comm in /proc/[0-9]*/comm; do
  if [ "$(cat "$comm" 2>/dev/null)" = freshclam ]; then
    exit 0
  fi
done
echo "freshclam is not running: signatures would go stale" >&2
exit 1
