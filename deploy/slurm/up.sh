#!/usr/bin/env bash
# deploy/slurm/up.sh STATE_DIR — install Slurm (Debian 12: 22.05.8) if missing and start a
# one-host test cluster with fake GPU nodes gpu[1-2] (8x h100) and gpu3 (4x a100), accounting
# in the local MariaDB and slurmrestd on a unix socket. Returns once every node is idle.
# Configs, keys, logs, spool, sockets and pidfiles all live under STATE_DIR; stop it with
# deploy/slurm/down.sh STATE_DIR. Afterwards: export SLURM_CONF=STATE_DIR/etc/slurm.conf
# (also written to STATE_DIR/env). Ports and names: see the variables below.
set -euo pipefail
S=$(realpath -m "${1:?usage: up.sh STATE_DIR}")
CLUSTER=${SLURM_CLUSTER:-stargate}
CTLD_PORT=${SLURM_CTLD_PORT:-16817}
DBD_PORT=${SLURM_DBD_PORT:-16819}
NODE_PORT=${SLURM_NODE_PORT:-17001}          # gpu1..gpu3 listen on NODE_PORT..NODE_PORT+2
DB_NAME=${SLURM_DB_NAME:-slurm_acct_db}      # MariaDB database used by slurmdbd
DB_HOST=${SLURM_DB_HOST:-127.0.0.1} DB_PORT=${SLURM_DB_PORT:-3306}
RESTD=${SLURM_RESTD:-1}                      # 1: slurmrestd on unix:STATE_DIR/run/slurmrestd.sock
log() { echo "[slurm-up +${SECONDS}s] $*"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local n=$(($1 * 5)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    ((n-- > 0)) || { echo "timeout waiting for $what" >&2; tail -n 5 "$S"/log/*.log >&2; exit 1; }
    sleep 0.2
  done
}

# 1. Packages (skipped when already installed).
bash "$(dirname "$0")/install.sh"
if [ "$(cat /proc/"$(cat "$S/run/slurmctld.pid" 2>/dev/null)"/comm 2>/dev/null)" = slurmctld ]; then
  echo "cluster in $S already running (stop it with deploy/slurm/down.sh)" >&2; exit 1; fi
# What an interrupted run left behind (munged, slurmdbd or slurmd without their controller,
# e.g. a test stopped while it had the controller down) would not let the daemons start: stop
# it by its pidfiles first.
if [ -d "$S/run" ]; then bash "$(dirname "$0")/down.sh" "$S" >/dev/null 2>&1 || true; fi
fresh=; [ -d "$S/spool/ctld" ] || fresh=1
mkdir -p "$S"/{etc,log,run,dev} "$S"/spool/{ctld,slurmd-gpu1,slurmd-gpu2,slurmd-gpu3}

# 2. MariaDB: CI machines already run it; on a bare machine start it (stopped again by down.sh).
if ! mysqladmin -h "$DB_HOST" -P "$DB_PORT" ping >/dev/null 2>&1; then
  install -d -o mysql -g mysql /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for 60 mariadb mysqladmin -h "$DB_HOST" -P "$DB_PORT" ping
  wait_for 10 mariadb-pidfile test -s /run/mysqld/mysqld.pid
  cp /run/mysqld/mysqld.pid "$S/run/mariadbd.pid"
  log "started mariadbd"
fi
sql() { mariadb -h "$DB_HOST" -P "$DB_PORT" -uroot -e "$1" 2>/dev/null || mariadb -uroot -e "$1"; }
# A new STATE_DIR starts job ids at 1 again: empty the accounting DB so sacct -j never
# returns rows of an earlier cluster with the same job id.
[ -z "$fresh" ] || sql "DROP DATABASE IF EXISTS \`$DB_NAME\`"
sql "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
     CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
     GRANT ALL ON \`$DB_NAME\`.* TO 'slurm'@'localhost';
     GRANT ALL ON \`$DB_NAME\`.* TO 'slurm'@'127.0.0.1';"

# 3. Keys, fake GPU devices, configs.
[ -s "$S/etc/munge.key" ] || { head -c 1024 /dev/urandom >"$S/etc/munge.key"; chmod 400 "$S/etc/munge.key"; }
[ -s "$S/etc/jwt.key" ] || { head -c 32 /dev/urandom >"$S/etc/jwt.key"; chmod 600 "$S/etc/jwt.key"; }
for i in 0 1 2 3 4 5 6 7; do ln -sfn /dev/null "$S/dev/nvidia$i"; done
AUTH="AuthType=auth/munge
AuthInfo=socket=$S/run/munge.sock
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$S/etc/jwt.key"
cat >"$S/etc/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
$AUTH
CredType=cred/munge
StateSaveLocation=$S/spool/ctld
SlurmdSpoolDir=$S/spool/slurmd-%n
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd-%n.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd-%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
# GrpTRESMins usage is accrued by priority/multifactor only (every PriorityCalcPeriod
# minutes); half-life 0 + no reset = usage never decays, i.e. a hard GPU-minute budget.
PriorityType=priority/multifactor
PriorityDecayHalfLife=0
PriorityUsageResetPeriod=NONE
PriorityCalcPeriod=1
ReturnToService=2
KillWait=5
MpiDefault=none
MailProg=/bin/true
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$S/run/munge.sock
AccountingStorageEnforce=associations,limits,qos,safe
AccountingStorageTRES=gres/gpu,gres/gpu:h100,gres/gpu:a100
AccountingStoreFlags=job_comment
NodeName=gpu[1-2] NodeHostname=localhost NodeAddr=127.0.0.1 Port=[$NODE_PORT-$((NODE_PORT + 1))] CPUs=32 RealMemory=256000 Gres=gpu:h100:8 Feature=h100
NodeName=gpu3 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((NODE_PORT + 2)) CPUs=32 RealMemory=256000 Gres=gpu:a100:4 Feature=a100
PartitionName=gpu Nodes=ALL Default=YES DefaultTime=01:00:00 MaxTime=INFINITE State=UP
EOF
cat >"$S/etc/gres.conf" <<EOF
NodeName=gpu[1-2] Name=gpu Type=h100 File=$S/dev/nvidia[0-7]
NodeName=gpu3 Name=gpu Type=a100 File=$S/dev/nvidia[0-3]
EOF
echo "CgroupPlugin=cgroup/v1" >"$S/etc/cgroup.conf"
(umask 077; cat >"$S/etc/slurmdbd.conf" <<EOF
$AUTH
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$S/run/slurmdbd.pid
LogFile=$S/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=$DB_HOST
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=$DB_NAME
EOF
)
export SLURM_CONF=$S/etc/slurm.conf
echo "export SLURM_CONF=$SLURM_CONF" >"$S/env"

# 4. Daemons: munged, slurmdbd, (cluster row), slurmctld, one slurmd per node, slurmrestd.
munged --key-file="$S/etc/munge.key" --socket="$S/run/munge.sock" --pid-file="$S/run/munged.pid" \
  --log-file="$S/log/munged.log" --seed-file="$S/run/munge.seed"
slurmdbd
wait_for 60 slurmdbd bash -c "</dev/tcp/127.0.0.1/$DBD_PORT"
sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
slurmctld
wait_for 60 slurmctld scontrol ping
for n in gpu1 gpu2 gpu3; do slurmd -N "$n"; done
if [ "$RESTD" = 1 ]; then
  SLURMRESTD_SECURITY=disable_user_check nohup slurmrestd -a rest_auth/local "unix:$S/run/slurmrestd.sock" \
    </dev/null >>"$S/log/slurmrestd.log" 2>&1 &
  echo $! >"$S/run/slurmrestd.pid"
  wait_for 20 slurmrestd test -S "$S/run/slurmrestd.sock"
fi
# Ready = slurmctld registered with slurmdbd (sacctmgr changes reach it) and all nodes idle.
wait_for 60 registration bash -c "sacctmgr -n -P list cluster $CLUSTER format=controlport | grep -qx $CTLD_PORT"
wait_for 60 idle-nodes bash -c '[ "$(sinfo -h -N -o %t | sort -u)" = idle ]'
log "cluster $CLUSTER up: $(sinfo -h -N -o '%N:%t' | tr '\n' ' ')"
