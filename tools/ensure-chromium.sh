#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright; they never download a browser.
# Installs chromium with apt-get when it is missing and we are allowed to (root); otherwise the
# browser tests skip with a reason (never under CI=true, where they fail instead).
set -u
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium; browser tests will not run"
else
  echo "chromium is not installed and cannot be installed here; browser tests will not run"
fi
exit 0
