# shellcheck shell=bash
# scripts/lib/servers.sh: a private redis-server and MongoDB wire server on 127.0.0.1, for
# scripts/test and scripts/bench. Needs scripts/lib/processes.sh, and from the sourcing script
# LOG_DIR (where the servers' logs go) and VENV (the project's .venv).
#
# Both servers keep their state in a directory of the caller's and persist nothing beyond it;
# neither touches the machine's own servers (for example a redis-server on 6379).

# mongo_bin: the path of the MongoDB wire server to use: `mongod` when it is on PATH, else
# .venv/bin/nx-27017.
mongo_bin() {
    if command -v mongod >/dev/null 2>&1; then command -v mongod; else echo "$VENV/bin/nx-27017"; fi
}

# haproxy_bin: Debian's haproxy, also when /usr/sbin is not on PATH.
haproxy_bin() {
    command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy
}

# spawn_redis NAME PORT DIR: `spawn` redis-server as NAME on 127.0.0.1:PORT, without
# persistence, working directory DIR; its output goes to $LOG_DIR/NAME.log.
spawn_redis() {
    local name="$1" port="$2" dir="$3"
    mkdir -p "$dir"
    spawn "$name" "$LOG_DIR/$name.log" redis-server --save "" --appendonly no --bind 127.0.0.1 \
        --port "$port" --dir "$dir" --daemonize no
}

# redis_pongs PORT: true when the redis-server on 127.0.0.1:PORT answers PING.
redis_pongs() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

# wait_redis NAME PORT SECONDS: until the redis-server of NAME answers PING; on failure its log.
wait_redis() {
    local name="$1" port="$2" secs="$3" failed="redis-server did not answer PING on port $2"
    poll $((secs * 10)) 0.1 "$name" "$failed" "$failed" redis_pongs "$port" && return 0
    show_log "$LOG_DIR/$name.log" 30 >&2
    return 1
}

# spawn_mongo NAME PORT DIR: `spawn` the MongoDB wire server of `mongo_bin` as NAME on
# 127.0.0.1:PORT, its data in DIR/data; its output goes to $LOG_DIR/NAME.log. nx-27017 also
# needs a pid file (DIR/nx.pid) and writes its own log ($LOG_DIR/nx-27017.log); mongod takes
# --port/--dbpath/--bind_ip.
spawn_mongo() {
    local name="$1" port="$2" dir="$3" bin
    bin="$(mongo_bin)"
    mkdir -p "$dir/data"
    if [[ "$(basename "$bin")" == mongod ]]; then
        spawn "$name" "$LOG_DIR/$name.log" "$bin" --port "$port" --dbpath "$dir/data" \
            --bind_ip 127.0.0.1
    else
        spawn "$name" "$LOG_DIR/$name.log" "$bin" --host 127.0.0.1 -p "$port" \
            --data-dir "$dir/data" --pid-file "$dir/nx.pid" \
            --log-file "$LOG_DIR/nx-27017.log"
    fi
}

# wait_mongo NAME PORT SECONDS: until the MongoDB wire server of NAME listens; on failure its logs.
wait_mongo() {
    local name="$1" port="$2" secs="$3"
    wait_tcp "$port" "$secs" "$name" && return 0
    show_log "$LOG_DIR/$name.log" 30 >&2
    show_log "$LOG_DIR/nx-27017.log" 30 >&2
    return 1
}
