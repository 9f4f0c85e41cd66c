#!/usr/bin/env bash
# deploy/slurm/down.sh STATE_DIR — stop what up.sh started, by pidfile only.
# Keeps STATE_DIR (logs); delete it yourself for a fresh start. MariaDB is stopped only
# if up.sh started it (STATE_DIR/run/mariadbd.pid exists).
set -uo pipefail
S=$(realpath -m "${1:?usage: down.sh STATE_DIR}")
export SLURM_CONF=$S/etc/slurm.conf
alive() { [ -e /proc/"$1" ] && ! grep -q '^State:.*zombie' /proc/"$1"/status 2>/dev/null; }
stop() { # stop PIDFILE EXPECTED_COMM: TERM, wait up to 10 s, then KILL
  local f=$1 comm=$2 pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$comm" ]; then
    kill -TERM "$pid"
    for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid"
  fi
  rm -f "$f"
}
# Cancel jobs first: a running job's slurmstepd would outlive its slurmd.
if scontrol ping >/dev/null 2>&1; then
  squeue -h -o %A | xargs -r scancel
  for i in $(seq 50); do [ -z "$(squeue -h -t R,CG -o %A)" ] && break; sleep 0.2; done
fi
for f in "$S"/run/slurmrestd*.pid; do stop "$f" slurmrestd; done
for f in "$S"/run/slurmd-*.pid; do stop "$f" slurmd; done
stop "$S/run/slurmctld.pid" slurmctld
stop "$S/run/slurmdbd.pid" slurmdbd
stop "$S/run/munged.pid" munged
stop "$S/run/mariadbd.pid" mariadbd
echo "[slurm-down] stopped cluster in $S"
