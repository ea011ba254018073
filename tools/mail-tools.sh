#!/bin/sh
# Make sure the real tools the tests run are installed: Dovecot (dovecot-imapd), mbsync
# (isync) and offlineimap (offlineimap3), from Debian, and groff and man (groff-base, man-db),
# which check the man page and the unit's link to it. As root (as CI runs) a missing one is
# installed with apt-get; otherwise this stops, printing the one command to run.
# The tests start their own Dovecot on a free port; a system one the package may start is
# neither used nor stopped.
set -eu
PATH="$PATH:/usr/sbin:/sbin"  # dovecot lives in sbin, which a user's PATH often lacks
PACKAGES="dovecot-imapd isync offlineimap3 groff-base man-db"
missing=""
for tool in dovecot mbsync offlineimap groff man; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
echo "missing for the tests:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "install them with:  sudo apt-get install -y --no-install-recommends $PACKAGES" >&2
    exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES
