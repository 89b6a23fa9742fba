# shellcheck shell=bash
# Shared settings and helpers of lab/start, lab/stop and lab/status.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

if [ -n "${SENHASEGURA_LAB_ROOT:-}" ]; then
  LAB_ROOT=$SENHASEGURA_LAB_ROOT
elif [ "$IS_ROOT" = 1 ]; then
  LAB_ROOT=/var/lib/senhasegura-lab
else
  LAB_ROOT=${XDG_STATE_HOME:-$HOME/.local/state}/senhasegura-lab
fi
case "$LAB_ROOT" in
  /*) ;;
  *) echo "lab: SENHASEGURA_LAB_ROOT must be an absolute path" >&2; exit 2 ;;
esac
if ! [[ "$LAB_ROOT" =~ ^/[A-Za-z0-9._/-]+$ ]]; then
  echo "lab: the lab root may contain only A-Za-z0-9._-/ ($LAB_ROOT)" >&2
  exit 2
fi

LAB_HOST=127.0.0.1
APPLIANCE_BASE_PORT=${SENHASEGURA_LAB_APPLIANCE_PORT:-59022}
RSYNC_PORT=${SENHASEGURA_LAB_RSYNC_PORT:-2222}
SMB_PORT=${SENHASEGURA_LAB_SMB_PORT:-4450}
NFS_PORT=${SENHASEGURA_LAB_NFS_PORT:-20490}

RUN=$LAB_ROOT/run
LOGS=$LAB_ROOT/logs
KEYS=$LAB_ROOT/keys
SECRETS=$LAB_ROOT/secrets
ETC_DIR=/etc/senhasegura-lab
ALLOWLIST=$ETC_DIR/appliances
ORBIT_WRAPPER=/usr/local/bin/orbit
SUDOERS_FILE=/etc/sudoers.d/senhasegura-lab
SAMBA_CONF=$LAB_ROOT/samba/smb.conf
GANESHA_CONF=$LAB_ROOT/ganesha/ganesha.conf
CIFS_SHARE=backup
CIFS_USER=senhabkp
CIFS_CREDENTIAL_ID=lab-cifs
NFS_PSEUDO=/senhasegura

if [ "$IS_ROOT" = 1 ]; then
  ADMIN_USER=mt4adm
  BACKUP_USER=senhauser
  BKPADMIN_USER=bkpadmin
  BACKUP_PATH=/files/backup/senhasegura
else
  ME=$(id -un)
  ADMIN_USER=$ME
  BACKUP_USER=$ME
  BKPADMIN_USER=$ME
  CIFS_USER=$ME
  BACKUP_PATH=$LAB_ROOT/files/backup/senhasegura
fi

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '[lab %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }

appliance_name() { echo "appliance-$1"; }
appliance_port() { echo $((APPLIANCE_BASE_PORT + $1)); }
appliance_root() { echo "$LAB_ROOT/appliances/appliance-$1"; }

# alive PID: the process exists and is not a zombie (this machine's init reaps
# slowly, and kill -0 succeeds on a zombie)
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pid_of NAME: the pid recorded in $RUN/NAME.pid, if that process is alive and
# still runs the program the lab started (its command line names the lab root).
pid_of() {
  local f=$RUN/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [ -n "$pid" ] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$LAB_ROOT/" || return 1
  echo "$pid"
}

# descendants PID: every process below PID.
descendants() {
  local parent=$1 child
  for child in $(ps -o pid= --ppid "$parent" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# Samba's RPC helpers (samba-dcerpcd, rpcd_*) may reparent to init; they are
# ours when their command line names our smb.conf.
samba_helpers() {
  local pid
  for pid in $(pgrep -f -- "--configfile=$SAMBA_CONF" 2>/dev/null || true); do
    [ "$pid" != "$$" ] && echo "$pid"
  done
}

# tree_pids NAME…: the recorded processes of NAMEs and all their descendants
tree_pids() {
  local name pid
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      echo "$pid"
      descendants "$pid"
    fi
  done
}

# kill_pids PID…: TERM, wait until every one is gone (zombies count as gone),
# KILL whatever is left after 5 s.
kill_pids() {
  [ $# -gt 0 ] || return 0
  local p i alive_pids
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 1 100); do
    alive_pids=()
    for p in "$@"; do alive "$p" && alive_pids+=("$p"); done
    [ "${#alive_pids[@]}" -eq 0 ] && return 0
    if [ "$i" -eq 100 ]; then
      warn "killing ${alive_pids[*]} after 5 s"
      kill -KILL "${alive_pids[@]}" 2>/dev/null || true
      sleep 0.1
      return 0
    fi
    sleep 0.05
  done
}

# kill_tree NAME [extra pids…]: stop the recorded process, its descendants and
# any extra pids, and forget its pid file.
kill_tree() {
  local name=$1
  shift
  # shellcheck disable=SC2046
  kill_pids $(tree_pids "$name") "$@"
  rm -f "$RUN/$name.pid"
}

# lab_lock: one lab/start or lab/stop at a time (fd 9; daemons must not inherit it)
lab_lock() {
  install -d -m 0755 "$LAB_ROOT"
  exec 9>"$LAB_ROOT/.lab.lock"
  flock -w 120 9 || die "another lab/start or lab/stop holds $LAB_ROOT/.lab.lock"
}

# tcp_open PORT
tcp_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$LAB_HOST/$1" 2>/dev/null
}

# pinned_key PUBFILE: "type base64" of an OpenSSH public key file
pinned_key() { awk '{print $1" "$2}' "$1"; }

# ssh_check PORT PUBFILE: the server's ed25519 host key equals the pinned one
ssh_check() {
  local got
  got=$(timeout 5 ssh-keyscan -T 3 -t ed25519 -p "$1" "$LAB_HOST" 2>/dev/null | awk '{print $2" "$3}' | head -1)
  [ -n "$got" ] && [ "$got" = "$(pinned_key "$2")" ]
}

smb_check() {
  [ -f "$SECRETS/cifs-auth" ] || return 1
  timeout 10 smbclient -L "//$LAB_HOST" -p "$SMB_PORT" -A "$SECRETS/cifs-auth" -t 5 >/dev/null 2>&1
}

nfs_check() {
  timeout 10 nfs-ls "nfs://$LAB_HOST$NFS_PSEUDO?version=4&nfsport=$NFS_PORT" >/dev/null 2>&1
}

# The number of appliances the running lab has (from its sshd configs).
running_appliances() {
  local n=0
  while [ -f "$LAB_ROOT/sshd/appliance-$n/sshd_config" ]; do n=$((n + 1)); done
  echo "$n"
}
