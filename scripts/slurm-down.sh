#!/usr/bin/env bash
# Stop the one-node Slurm cluster brought up by scripts/slurm-up.sh. See docs/slurm-local.md.
#
# Stops ONLY the daemons that slurm-up.sh recorded as started by itself (/run/xlmr-slurm/started.pids),
# each by PID, after checking that the PID is still that daemon (/proc/PID/comm and start time).
# A daemon that was already running before slurm-up.sh (not recorded) is left alone.
# Before stopping slurmctld/slurmd, all jobs are cancelled (stopping slurmd does not kill running
# jobs) and we wait for them to leave the queue.
# Idempotent: with nothing recorded, or everything already stopped, it does nothing and exits 0.
#
#   --purge   also drop the accounting DB and wipe Slurm state and logs (next slurm-up = clean slate);
#             only parts owned by daemons this project started are touched.
set -uo pipefail

STATE=/run/xlmr-slurm/started.pids
PURGE=0
case "${1:-}" in
  --purge) PURGE=1 ;;
  "") ;;
  *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac
log() { echo "[slurm-down +${SECONDS}s] $*" >&2; }

# alive PID NAME: live, non-zombie process named NAME (PID 1 reaps late here: a killed daemon can
# linger as a zombie, which `kill -0` would still report as present)
alive() {
  [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

if [ ! -s "$STATE" ]; then
  log "nothing recorded in $STATE: no daemon started by slurm-up.sh to stop"
  exit 0
fi
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 2; }

# ours NAME -> PID, if NAME is recorded and that exact process is still running
ours() {
  local name pid st pf
  read -r name pid st pf < <(grep "^$1 " "$STATE" | tail -n 1) || return 1
  alive "$pid" "$name" && [ "$(starttime "$pid")" = "$st" ] || return 1
  echo "$pid"
}

stop() { # stop NAME: TERM, wait up to 30 s, then KILL; by recorded PID only
  local name=$1 pid pf i
  if pid=$(ours "$name"); then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 300); do alive "$pid" "$name" || break; sleep 0.1; done
    if alive "$pid" "$name"; then
      log "$name did not exit within 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null; sleep 0.5
    fi
    pf=$(awk -v n="$name" '$1 == n {print $4}' "$STATE" | tail -n 1)
    [ -n "$pf" ] && rm -f "$pf"
  fi
  sed -i "/^$name /d" "$STATE"
}

# 1. cancel all jobs, if we are about to stop the controller or the node daemon
if { ours slurmctld || ours slurmd; } >/dev/null && command -v squeue >/dev/null; then
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    scancel $jobs 2>/dev/null
    for i in $(seq 120); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.25; done
    [ -n "$(squeue -h 2>/dev/null)" ] && log "warning: jobs still in the queue after 30 s: $(squeue -h -o '%A %T' | tr '\n' ' ')"
  fi
fi

# 2. daemons, consumers before what they depend on
stop slurmd
stop slurmctld
stop slurmdbd
if [ "$PURGE" = 1 ] && ours mariadbd >/dev/null; then
  mariadb -e 'DROP DATABASE IF EXISTS slurm_acct_db' 2>/dev/null && log "dropped slurm_acct_db"
fi
stop mariadbd
stop munged

if [ "$PURGE" = 1 ]; then
  for f in /run/slurm/slurmctld.pid /run/slurm/slurmd.pid; do
    pid=$(cat "$f" 2>/dev/null | tr -dc 0-9); n=$(basename "$f" .pid)
    if alive "$pid" "$n"; then log "not purging: $n (pid $pid, not started by slurm-up.sh) is running"; PURGE=0; fi
  done
fi
if [ "$PURGE" = 1 ]; then
  rm -rf /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  log "purged Slurm state (/var/spool/slurmctld, /var/spool/slurmd) and logs (/var/log/slurm)"
fi
[ -s "$STATE" ] || rm -f "$STATE"
log "done"
exit 0
