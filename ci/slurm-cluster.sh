#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on this machine (slurmctld + slurmd + munged), for
# testing dmsim's job-array scripts. Everything lives under one state directory; nothing in
# /etc is changed except what Debian's packages install.
#
#   ci/slurm-cluster.sh install          # apt-get install slurm-wlm munge (root)
#   ci/slurm-cluster.sh start STATE_DIR  # writes the config, starts the daemons, waits for the node
#   ci/slurm-cluster.sh stop STATE_DIR   # stops the daemons started by `start`
#
# Clients use the cluster with `export SLURM_CONF=STATE_DIR/slurm.conf`.
set -euo pipefail

cmd=${1:?usage: slurm-cluster.sh install|start|stop [STATE_DIR]}

case "$cmd" in
install)
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
  slurmctld -V
  ;;
start)
  state=$(realpath -m "${2:?start needs a state directory}")
  mkdir -p "$state"/{munge,spool,ctld,log,run}
  chmod 700 "$state/munge"
  host=$(hostname -s)
  cpus=$(nproc)
  mem_mb=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
  # munge: a fresh key and a private socket, so a munged already running is left alone.
  dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$state/munge/munge.key"
  munged --force --key-file="$state/munge/munge.key" \
    --socket="$state/munge/munge.socket" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/log/munged.log" --seed-file="$state/munge/munge.seed"
  cat >"$state/slurm.conf" <<CONF
ClusterName=dmsim-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=10
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$state/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      sinfo
      exit 0
    fi
    sleep 1
  done
  echo "slurm-cluster: the node did not come up; logs in $state/log" >&2
  tail -n 20 "$state/log/"*.log >&2 || true
  exit 1
  ;;
stop)
  state=$(realpath -m "${2:?stop needs a state directory}")
  for pidfile in "$state/run/slurmd.pid" "$state/run/slurmctld.pid" "$state/munge/munged.pid"; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
  ;;
*)
  echo "usage: slurm-cluster.sh install|start|stop [STATE_DIR]" >&2
  exit 2
  ;;
esac
