# shellcheck shell=bash
# scripts/lib/redis_cluster.sh: a private Redis Cluster on 127.0.0.1 (three masters, no
# replicas), for a stage that runs the invoice cache against a cluster. Needs
# scripts/lib/processes.sh and scripts/lib/servers.sh (redis_pongs), and from the sourcing
# script LOG_DIR and PID_DIR; redis-server 7 or later (--cluster-port) and redis-cli.
#
# Like servers.sh it persists nothing beyond the caller's directory: each node keeps only its
# nodes.conf there, and it never touches the machine's own servers.

# spawn_redis_cluster_node NAME PORT BUS_PORT DIR: `spawn` a cluster-enabled redis-server as
# NAME on 127.0.0.1:PORT, its cluster bus on BUS_PORT (picked free rather than PORT + 10000,
# which may be taken or past 65535), its nodes.conf in DIR (a fresh one: DIR is its own);
# its output goes to $LOG_DIR/NAME.log. The masters that answer keep serving their slots
# while another is down.
spawn_redis_cluster_node() {
    local name="$1" port="$2" bus="$3" dir="$4"
    mkdir -p "$dir"
    # A nodes.conf left by an earlier run would bring back that run's cluster.
    rm -f "$dir"/nodes-*.conf
    spawn "$name" "$LOG_DIR/$name.log" redis-server --save "" --appendonly no --bind 127.0.0.1 \
        --port "$port" --dir "$dir" --daemonize no \
        --cluster-enabled yes --cluster-port "$bus" \
        --cluster-config-file "$dir/nodes-$port.conf" \
        --cluster-require-full-coverage no
}

# redis_cluster_ok PORT...: true when every node on 127.0.0.1:PORT says cluster_state:ok.
redis_cluster_ok() {
    local port
    for port in "$@"; do
        redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | tr -d '\r' |
            grep -qx 'cluster_state:ok' || return 1
    done
}

# start_redis_cluster NAME DIR: three nodes NAME-1..NAME-3 on free ports (state under DIR),
# formed into one cluster with `redis-cli --cluster create`; waits until every node says
# cluster_state:ok and prints the cluster's REDIS_URL (redis+cluster://127.0.0.1:P1,...). On
# failure the logs go to stderr. `stop_redis_cluster NAME` ends it; so does `stop_all`.
start_redis_cluster() {
    # Not `port`: free_port sets its variable by name, and has a local of that name.
    local name="$1" dir="$2" i node_port bus_port ports=() seeds=()
    for i in 1 2 3; do
        free_port node_port
        free_port bus_port
        spawn_redis_cluster_node "$name-$i" "$node_port" "$bus_port" "$dir/$i" >&2
        ports+=("$node_port")
        seeds+=("127.0.0.1:$node_port")
    done
    for i in 1 2 3; do
        wait_redis "$name-$i" "${ports[$((i - 1))]}" 10 >&2 || return 1
    done
    if ! redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes \
        >"$LOG_DIR/$name-create.log" 2>&1; then
        echo "start_redis_cluster: redis-cli --cluster create failed" >&2
        show_log "$LOG_DIR/$name-create.log" 30 >&2
        return 1
    fi
    if ! poll 100 0.1 "$name-1" "$name-1 exited while the cluster formed" \
        "$name: not every node says cluster_state:ok after 10s" \
        redis_cluster_ok "${ports[@]}" >&2; then
        for i in 1 2 3; do show_log "$LOG_DIR/$name-$i.log" 20 >&2; done
        return 1
    fi
    local IFS=,
    echo "redis+cluster://${seeds[*]}"
}

# stop_redis_cluster NAME: `stop` the nodes start_redis_cluster NAME started.
stop_redis_cluster() { stop "$1-1" "$1-2" "$1-3"; }
