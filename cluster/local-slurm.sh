#!/usr/bin/env bash
# A single-node SLURM cluster on localhost with one fake GPU, for tests and CI.
#
#   cluster/local-slurm.sh install   # Debian packages (root; idempotent)
#   cluster/local-slurm.sh start     # munge + slurmctld + slurmd; waits for the node to be idle
#   cluster/local-slurm.sh stop      # stops the daemons by the PIDs in their pid files
#   cluster/local-slurm.sh status
#
# Without systemd or cgroups: proctrack/linuxproc, task/none, no accounting
# (so the Snakemake profile must query squeue, not sacct). The GPU is a GRES
# backed by /dev/null: jobs asking --gpus=1 are scheduled and see
# CUDA_VISIBLE_DEVICES=0, but there is no device, so torch runs on the CPU.
set -euo pipefail

STATE=${LOCAL_SLURM_STATE:-/tmp/local-slurm}
CONF_DIR=/etc/slurm
HOST=$(hostname -s)

need_root() {
    [ "$(id -u)" -eq 0 ] || { echo "local-slurm: must run as root (it writes $CONF_DIR and starts daemons)" >&2; exit 2; }
}

install() {
    need_root
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sinfo >/dev/null; then
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

write_config() {
    local cpus mem_mb
    # The node advertises at least 8 CPUs (config_overrides lets slurmd accept
    # more than the machine has), so the production profile's requests fit.
    cpus=$(( $(nproc) > 8 ? $(nproc) : 8 ))
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
    mkdir -p "$CONF_DIR" "$STATE"/{spool,state,log}
    cat >"$CONF_DIR/slurm.conf" <<EOF
ClusterName=localcluster
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=${STATE}/state
SlurmdSpoolDir=${STATE}/spool
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MpiDefault=none
ReturnToService=2
MinJobAge=300
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
AutoDetect=off
NodeName=${HOST} Name=gpu File=/dev/null
EOF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    need_root
    install
    write_config
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge
    if ! alive /run/munge/munged.pid; then
        runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    fi
    alive "$STATE/slurmctld.pid" || slurmctld
    alive "$STATE/slurmd.pid" || slurmd
    for _ in $(seq 1 60); do
        state=$(sinfo -h -o %T 2>/dev/null | head -n1 || true)
        case "$state" in
            idle*|mixed*|allocated*) echo "local-slurm: node ${HOST} is ${state}"; return 0 ;;
        esac
        sleep 1
    done
    echo "local-slurm: node did not become idle; see ${STATE}/log" >&2
    return 1
}

stop() {
    # Only the daemons this script started; never remove packages (libmunge2 has dependants).
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" /run/munge/munged.pid; do
        if alive "$pidfile"; then
            kill "$(cat "$pidfile")" || true
        fi
    done
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" /run/munge/munged.pid; do
        for _ in $(seq 1 20); do alive "$pidfile" || break; sleep 0.5; done
    done
}

status() {
    for d in slurmctld slurmd; do
        if alive "$STATE/$d.pid"; then echo "$d running (pid $(cat "$STATE/$d.pid"))"; else echo "$d stopped"; fi
    done
    sinfo 2>/dev/null || true
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
