# shellcheck shell=bash
# scripts/lib/processes.sh: processes, sessions and ports, for scripts/test and scripts/bench.
#
# Every long-lived process runs as the leader of a session of its own; its pid, which is also
# its session id, is recorded in $PID_DIR/NAME.pid. `stop` and `stop_all` end every process
# left in a recorded session, grandchildren in other process groups included, and nothing else:
# never a session that was not recorded, never a recorded pid that a command not ours has
# reused since (the machine's own redis-server on 6379, say).
#
# The sourcing script sets, before it calls anything here:
#   ROOT          the repository root (log paths are shown relative to it)
#   RUN_DIR       its state directory (take_lock puts the lock there)
#   PID_DIR       where the .pid files go
#   OWN_COMMANDS  an extended regex that the command line of every process it spawns matches
# File descriptor 9 holds the run lock (take_lock); no spawned process inherits it.

# take_lock WHAT: hold $RUN_DIR/lock on fd 9 for as long as this shell lives; exit 2 when
# another WHAT holds it.
take_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lock"
    if ! flock -n 9; then
        echo "$1: another $1 is running in $ROOT (lock $RUN_DIR/lock)" >&2
        exit 2
    fi
}

# free_port VAR: set VAR to a free TCP port on 127.0.0.1 that this shell has not handed out
# before (two ports picked before either is bound must differ).
USED_PORTS=" "
free_port() {
    local port
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
        if [[ "$USED_PORTS" != *" $port "* ]]; then
            USED_PORTS+="$port "
            printf -v "$1" '%s' "$port"
            return 0
        fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# detach PIDFILE CMD...: exec CMD as the leader of a new session, stdin from /dev/null, the
# lock on fd 9 closed, SIGINT/SIGQUIT at their defaults (a background job of a script would
# otherwise inherit them ignored); its pid, which is also its session id, goes to PIDFILE.
detach() {
    local pidfile="$1"
    shift
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
    exec setsid env --default-signal=INT,QUIT bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" \
        </dev/null 9>&-
}

# spawn NAME LOGFILE CMD...: `detach` CMD in the background, output to LOGFILE, and record its
# pid (= its session id) in $PID_DIR/NAME.pid: `stop` and the EXIT trap end every process left
# in that session, including grandchildren in other process groups.
spawn() {
    local name="$1" logfile="$2"
    shift 2
    mkdir -p "$PID_DIR"
    rm -f "$PID_DIR/$name.pid"
    detach "$PID_DIR/$name.pid" "$@" >"$logfile" 2>&1 &
    for _ in $(seq 50); do
        [[ -s "$PID_DIR/$name.pid" ]] && return 0
        sleep 0.1
    done
    echo "spawn: $name did not start" >&2
    return 1
}

# pid_of NAME: the pid (= session id) recorded for NAME.
pid_of() { cat "$PID_DIR/$1.pid"; }

# running PID: true while process PID exists and is not a zombie.
running() {
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ -n "$st" && "$st" != Z* ]]
}

# session_alive SID: true while a process (not a zombie) is left in session SID.
session_alive() {
    ps -e -o sid=,stat= | awk -v s="$1" '$1 == s && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# alive NAME: true while the session recorded for NAME has a process in it.
alive() {
    local sid
    sid="$(pid_of "$1" 2>/dev/null)" || return 1
    [[ -n "$sid" ]] && session_alive "$sid"
}

# ours SID: only sessions that we recorded, and only while they are ours. While any process is
# left in a session, Linux hands its id to no new process, so a session whose leader has exited
# (or is a zombie) is still ours; a live leader must still be one of our commands, matching
# OWN_COMMANDS (a recorded pid could have been reused after its session emptied). Never
# anything else, such as the machine's own redis.
ours() {
    local cmd
    running "$1" || return 0
    cmd="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 0
    [[ "$cmd" =~ ${OWN_COMMANDS:?OWN_COMMANDS is not set} ]]
}

# stop NAME...: TERM every process of the recorded sessions, KILL what is left after 10 s.
stop() {
    local name sid sids=()
    for name in "$@"; do
        sid="$(pid_of "$name" 2>/dev/null)" || continue
        if [[ -n "$sid" ]] && session_alive "$sid" && ours "$sid"; then
            pkill -TERM -s "$sid" 2>/dev/null || true
            sids+=("$sid")
        fi
        rm -f "$PID_DIR/$name.pid"
    done
    for _ in $(seq 100); do
        local left=()
        for sid in ${sids[@]+"${sids[@]}"}; do
            session_alive "$sid" && left+=("$sid")
        done
        sids=(${left[@]+"${left[@]}"})
        [[ ${#sids[@]} -eq 0 ]] && return 0
        sleep 0.1
    done
    for sid in "${sids[@]}"; do
        echo "stop: session $sid did not end on SIGTERM; SIGKILL" >&2
        pkill -KILL -s "$sid" 2>/dev/null || true
    done
}

# stop_all: `stop` every session recorded in $PID_DIR.
stop_all() {
    local f names=()
    for f in "$PID_DIR"/*.pid; do
        [[ -e "$f" ]] || continue
        names+=("$(basename "$f" .pid)")
    done
    [[ ${#names[@]} -gt 0 ]] && stop "${names[@]}"
    return 0
}

# poll TRIES INTERVAL NAME EXITED TIMEOUT CHECK...: run CHECK every INTERVAL seconds, at most
# TRIES times, until it succeeds. Fails, saying EXITED, as soon as NAME's session is empty, or,
# saying TIMEOUT, when the tries are used up.
poll() {
    local tries="$1" interval="$2" name="$3" exited="$4" timeout="$5"
    shift 5
    for _ in $(seq "$tries"); do
        if "$@"; then return 0; fi
        alive "$name" || { echo "$exited" >&2; return 1; }
        sleep "$interval"
    done
    echo "$timeout" >&2
    return 1
}

# tcp_listens PORT: true when something accepts a connection on 127.0.0.1:PORT.
tcp_listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_ok URL: true when URL answers 2xx within 2 s.
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# wait_tcp PORT SECONDS NAME: until something listens on 127.0.0.1:PORT; fails after SECONDS
# or as soon as NAME's session is empty.
wait_tcp() {
    local port="$1" secs="$2" name="$3"
    poll $((secs * 10)) 0.1 "$name" "$name exited before listening" \
        "$name: nothing listens on 127.0.0.1:$port after ${secs}s" tcp_listens "$port"
}

# wait_http_ok URL SECONDS NAME: until URL answers 2xx; fails after SECONDS or as soon as NAME's
# session is empty.
wait_http_ok() {
    local url="$1" secs="$2" name="$3"
    poll $((secs * 4)) 0.25 "$name" "$name exited before answering $url" \
        "$name: $url did not answer 200 within ${secs}s" http_ok "$url"
}

# show_log FILE [LINES]: the last LINES (80) lines of FILE, framed; nothing when it is missing.
show_log() {
    [[ -f "$1" ]] || return 0
    echo "----- last ${2:-80} lines of ${1#"$ROOT"/} -----"
    tail -n "${2:-80}" "$1"
    echo "----- end of ${1#"$ROOT"/} -----"
}
