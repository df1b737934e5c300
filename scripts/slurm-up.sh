#!/usr/bin/env bash
# Bring up a real one-node Slurm cluster on this host, for the `slurm` test tier and local sweeps.
# Target: Debian 12 (slurm-wlm 22.05), run as root, no systemd. See docs/slurm-local.md.
#
# Starts, each only if not already running: munged, mariadbd, slurmdbd, slurmctld, slurmd.
# Accounting (slurmdbd + MariaDB) is not optional: without it `sacct` fails and submitit
# never sees a job finish.
#
# Idempotent: installs only missing packages, starts only daemons that are not running, and
# restarts the Slurm daemons only if the generated config changed. Every daemon THIS script
# starts is recorded (name, PID, start time) in $STATE_DIR/started.pids, so that
# scripts/slurm-down.sh stops exactly those, by PID, and nothing else.
#
# Env knobs:
#   SLURM_NODE_CPUS     CPUs the node advertises. Default max(nproc, 4): 4 on a 2-core machine, so a
#                       2-task job and another job fit at once (oversubscribed, fine for test jobs;
#                       SlurmdParameters=config_overrides makes slurmd accept more CPUs than it has).
#   SLURM_PARTITION     partition name (default: debug); it is the default partition.
#   SLURM_CLUSTER_NAME  ClusterName (default: localcluster).
#   SLURM_NODE_MEM_MB   RealMemory of the node (default: total memory - 1024 MB).
#   SLURM_DEF_MEM_PER_CPU  DefMemPerCPU in MB (default 512); without it a job lacking --mem takes the node.
#
# Exit status: 0 cluster up and srun works; 2 not root; 3 packages missing and apt cannot install
# them (tests skip on 2 and 3); 1 anything else (the daemons' log tails are printed).
set -euo pipefail

STATE_DIR=/run/xlmr-slurm
STATE=$STATE_DIR/started.pids
LOG_DIR=/var/log/slurm
NODE=$(hostname -s)
NPROC=$(nproc)
CPUS=${SLURM_NODE_CPUS:-$(( NPROC > 4 ? NPROC : 4 ))}
PARTITION=${SLURM_PARTITION:-debug}
CLUSTER=${SLURM_CLUSTER_NAME:-localcluster}
MEM_MB=${SLURM_NODE_MEM_MB:-$(( $(awk '/^MemTotal:/{print int($2/1024)}' /proc/meminfo) - 1024 ))}
(( MEM_MB >= 1024 )) || MEM_MB=1024
DEF_MEM=${SLURM_DEF_MEM_PER_CPU:-512}
DBPASS=slurmdbpass   # local-only MariaDB account (localhost); not a secret worth protecting

log() { echo "[slurm-up +${SECONDS}s] $*" >&2; }
die() {
  local code=${2:-1}
  log "ERROR: $1"
  if [ "$code" = 1 ]; then
    for f in "$LOG_DIR"/*.log; do [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  exit "$code"
}

# --- process helpers: by PID only, never by name ---------------------------------------------
# alive PID NAME: PID is a live (non-zombie) process whose comm is NAME. PID 1 here reaps late,
# so a killed daemon lingers as a zombie: `kill -0` would still say it is there.
alive() {
  [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
# pid_from PIDFILE NAME -> the PID in PIDFILE if it is alive and named NAME
pid_from() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null | tr -dc 0-9)
  alive "$pid" "$2" || return 1
  echo "$pid"
}
# start time (clock ticks since boot, field 22 of /proc/PID/stat): PID + start time names one process
starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# state file: one line per daemon we started: NAME PID STARTTIME PIDFILE
forget() { [ -f "$STATE" ] && sed -i "/^$1 /d" "$STATE" || true; }
record() { # record NAME PIDFILE
  local pid
  pid=$(pid_from "$2" "$1") || die "$1 is not running after start"
  forget "$1"
  echo "$1 $pid $(starttime "$pid") $2" >> "$STATE"
  log "$1 started (pid $pid)"
}
# drop entries whose process is gone (or whose PID was reused by another process)
prune_state() {
  [ -f "$STATE" ] || return 0
  local name pid st pf keep
  keep=$(mktemp)
  while read -r name pid st pf; do
    [ -n "${name:-}" ] || continue
    if alive "$pid" "$name" && [ "$(starttime "$pid")" = "$st" ]; then echo "$name $pid $st $pf" >> "$keep"; fi
  done < "$STATE"
  mv "$keep" "$STATE"
}
wait_for() { # wait_for SECONDS WHAT CMD...
  local end=$(( SECONDS + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < end )) || die "timed out after $1 s waiting for $what"
    sleep 0.2
  done
}
# restart_for_config NAME PIDFILE: stop a running Slurm daemon so it restarts with the new config
restart_for_config() {
  local pid i
  pid=$(pid_from "$2" "$1") || return 0
  log "config changed: stopping $1 (pid $pid) to restart it"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 300); do alive "$pid" "$1" || break; sleep 0.1; done
  if alive "$pid" "$1"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.3; fi
  rm -f "$2"; forget "$1"
}

[ "$(id -u)" = 0 ] || die "must run as root (installs packages and starts system daemons)" 2

# --- 1. packages --------------------------------------------------------------------------------
PKGS="munge slurm-client slurmctld slurmd slurmdbd mariadb-server"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || die "packages missing ($missing ) and no apt-get to install them" 3
  log "installing:$missing"
  # Package scripts must not try to start daemons (no systemd; we start them below): a
  # policy-rc.d that exits 101 forbids it. Add one only if the host has none, and remove it after.
  guard=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1
  fi
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
  ok=0
  # Try with the current package lists first (saves the update); refresh them if that fails.
  if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 && apt_install; then ok=1
  elif apt-get update -qq && apt_install; then ok=1; fi
  [ "$guard" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$ok" = 1 ] || die "apt-get could not install:$missing" 3
  log "installed:$missing"
fi

# --- 2. directories and state ----------------------------------------------------------------------
install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR" /run/slurm
install -d -m 0700 "$STATE_DIR"
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
install -d -o mysql -g mysql -m 0755 /run/mysqld
touch "$STATE"
prune_state

# --- 3. munge -------------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"; mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
if ! pid_from /run/munge/munged.pid munged >/dev/null; then
  # munged daemonizes itself; --force tolerates a stale socket left by an unclean stop
  runuser -u munge -- /usr/sbin/munged --force </dev/null >>"$LOG_DIR/munged.out" 2>&1
  wait_for 15 munged pid_from /run/munge/munged.pid munged
  record munged /run/munge/munged.pid
fi
wait_for 15 "munge credentials" sh -c 'munge -n | unmunge'

# --- 4. configuration -------------------------------------------------------------------------------
# config_overrides: slurmd takes CPUs/RealMemory from slurm.conf instead of checking the hardware,
# which is what lets SLURM_NODE_CPUS exceed nproc without the node being drained as invalid.
new=$(mktemp)
cat > "$new" <<EOF
# Generated by scripts/slurm-up.sh (xlmr-scaling); rewritten on each run. Do not edit by hand.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# Credentials expire after 10 s (default 120): a requeued job may only start again once its old
# credential expired, so this is what makes a submitit preemption requeue resume in ~11 s.
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
MailProg=/bin/true
KillWait=5
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
changed_ctl=0 changed_dbd=0
cmp -s "$new" /etc/slurm/slurm.conf || { changed_ctl=1; install -m 0644 "$new" /etc/slurm/slurm.conf; }
cat > "$new" <<EOF
# Generated by scripts/slurm-up.sh (xlmr-scaling). slurmdbd refuses this file unless it is mode 0600.
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF
cmp -s "$new" /etc/slurm/slurmdbd.conf || { changed_dbd=1; install -m 0600 "$new" /etc/slurm/slurmdbd.conf; }
chmod 0600 /etc/slurm/slurmdbd.conf
rm -f "$new"
# a restart (not `scontrol reconfigure`) because node CPUs/memory only change on a slurmd restart
if [ "$changed_ctl" = 1 ]; then
  restart_for_config slurmd /run/slurm/slurmd.pid
  restart_for_config slurmctld /run/slurm/slurmctld.pid
fi
if [ "$changed_dbd" = 1 ]; then restart_for_config slurmdbd /run/slurm/slurmdbd.pid; fi

# --- 5. MariaDB + slurmdbd ----------------------------------------------------------------------------
if ! pid_from /run/mysqld/mysqld.pid mariadbd >/dev/null; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  # mariadbd does not daemonize: detach it (setsid, own session) with stdio on a file, or a caller
  # reading our output through a pipe (CI step, pytest's subprocess) would wait for it forever.
  setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
    --innodb-buffer-pool-size=256M --innodb-lock-wait-timeout=900 \
    </dev/null >>"$LOG_DIR/mariadb.log" 2>&1 &
  wait_for 60 mariadbd mariadb -e 'SELECT 1'
  record mariadbd /run/mysqld/mysqld.pid
fi
wait_for 60 mariadbd mariadb -e 'SELECT 1'
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
if ! pid_from /run/slurm/slurmdbd.pid slurmdbd >/dev/null; then
  slurmdbd </dev/null >>"$LOG_DIR/slurmdbd.out" 2>&1
  wait_for 30 slurmdbd pid_from /run/slurm/slurmdbd.pid slurmdbd
  record slurmdbd /run/slurm/slurmdbd.pid
fi
wait_for 30 "slurmdbd to answer" sacctmgr -n -P show cluster

# --- 6. slurmctld + slurmd ----------------------------------------------------------------------------
if ! pid_from /run/slurm/slurmctld.pid slurmctld >/dev/null; then
  slurmctld -i </dev/null >>"$LOG_DIR/slurmctld.out" 2>&1   # -i: ignore unreadable old state
  wait_for 30 slurmctld pid_from /run/slurm/slurmctld.pid slurmctld
  record slurmctld /run/slurm/slurmctld.pid
fi
wait_for 30 "slurmctld to answer" scontrol ping
if ! pid_from /run/slurm/slurmd.pid slurmd >/dev/null; then
  slurmd </dev/null >>"$LOG_DIR/slurmd.out" 2>&1
  wait_for 30 slurmd pid_from /run/slurm/slurmd.pid slurmd
  record slurmd /run/slurm/slurmd.pid
fi
node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null || true; }
end=$(( SECONDS + 60 ))
until node_state | grep -Eq '^(idle|mixed|allocated|completing)$'; do
  st=$(node_state)
  # a node left drained/down by an earlier unclean stop comes back with RESUME
  case "$st" in *drain*|*down*|*fail*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;; esac
  (( SECONDS < end )) || die "node $NODE not usable (state: ${st:-none})"
  sleep 0.5
done
wait_for 30 "cluster $CLUSTER registered in accounting" \
  sh -c "sacctmgr -n -P show cluster format=cluster | grep -qx '$CLUSTER'"

# --- 7. smoke test ------------------------------------------------------------------------------------
out=$(timeout 60 srun -p "$PARTITION" -N1 -n1 -t 1 hostname 2>&1) || die "srun smoke test failed: $out"
log "Slurm up: node $out, partition $PARTITION, $(sinfo -h -p "$PARTITION" -o '%T, %c CPUs, %m MB')," \
    "started by this project: $(awk '{printf "%s%s(%s)", s, $1, $2; s=" "}' "$STATE")"
