#!/bin/sh
# Start Chromium in kiosk mode on the edgemem page once the service is ready.
# Run from the kiosk user's graphical session (e.g. ~/.config/autostart or a cage/labwc session).
set -eu
URL=${EDGEMEM_URL:-http://127.0.0.1:8765}
# Wait for the service: /healthz answers as soon as it listens; the page itself shows
# "starting…" until /readyz says the model is loaded.
i=0
until curl -fsS "$URL/healthz" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -gt 120 ] && break; sleep 1
done
exec chromium \
  --kiosk --app="$URL/" \
  --no-first-run --disable-sync --disable-background-networking --disable-component-update \
  --disable-translate --disable-features=Translate,MediaRouter --noerrdialogs \
  --disable-session-crashed-bubble --disable-infobars --check-for-update-interval=31536000 \
  --overscroll-history-navigation=0 --disable-pinch --incognito \
  --password-store=basic "$@"
