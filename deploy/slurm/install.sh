#!/usr/bin/env bash
# deploy/slurm/install.sh — install Debian's Slurm, MUNGE and MariaDB packages that are
# missing (Debian 12: Slurm 22.05.8). Nothing is started: a policy-rc.d that exits 101 keeps
# apt from starting the services, and is removed again if this script wrote it.
set -euo pipefail
PKGS="munge slurm-client slurmctld slurmd slurmdbd slurmrestd slurm-wlm-jwt-plugin mariadb-server curl"
missing=$(for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
[ -n "$missing" ] || exit 0
added_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; added_policy=1
fi
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
[ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
echo "[slurm-install] installed: $(echo $missing)"
