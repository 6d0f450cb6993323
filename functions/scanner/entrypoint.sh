#!/bin/sh
# The scanner container: signatures fetched once, then kept fresh by freshclam in the background,
# and clamd in the foreground (under tini, which reaps and forwards signals).
set -eu

config=/etc/clamav/freshclam.conf
if [ -n "${CLAMAV_PRIVATE_MIRROR:-}" ]; then
  config=/run/clamav/freshclam.conf
  { grep -v '^DatabaseMirror' /etc/clamav/freshclam.conf; echo "PrivateMirror ${CLAMAV_PRIVATE_MIRROR}"; } >"$config"
fi

have_database() {
  ls /var/lib/clamav/main.cvd /var/lib/clamav/main.cld >/dev/null 2>&1
}

# clamd refuses to start without a database. freshclam exits 0 (updated) or 1 (already up to
# date) on success; mirrors rate-limit bursts of new tasks, so retry with a growing pause.
attempt=1
while :; do
  status=0
  freshclam --config-file="$config" --foreground --stdout || status=$?
  if [ "$status" -le 1 ]; then
    break
  fi
  if [ "$attempt" -ge 5 ]; then
    if have_database; then
      echo "entrypoint: freshclam failed (exit $status); starting on the signatures already here" >&2
      break
    fi
    echo "entrypoint: freshclam failed $attempt times (exit $status) and no signatures are here" >&2
    exit 1
  fi
  sleep $((attempt * 20))
  attempt=$((attempt + 1))
done

freshclam --config-file="$config" --daemon --foreground --stdout &
exec clamd --foreground --config-file=/etc/clamav/clamd.conf
