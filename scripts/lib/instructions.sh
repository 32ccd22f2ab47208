# shellcheck shell=bash
# scripts/lib/instructions.sh: instructions per request, counted by valgrind's callgrind, for
# scripts/bench. Counts are repeatable on a busy machine, where timings are not: the same
# binary, requests and data give the same count whatever else runs beside it.
# Needs spawn, stop, wait_http_ok, free_port (processes.sh) and log from the sourcing script.

INSTRUCTIONS_WARMUP=200
INSTRUCTIONS_REQUESTS="${BENCH_INSTRUCTION_REQUESTS:-2000}"

# keepalive_gets URL COUNT [AUTHORIZATION]: COUNT sequential GETs of URL on one keep-alive
# connection; fails on any answer other than 200.
keepalive_gets() {
    python3 - "$@" <<'PY'
import http.client, sys, urllib.parse
url, count = urllib.parse.urlsplit(sys.argv[1]), int(sys.argv[2])
headers = {"Authorization": sys.argv[3]} if len(sys.argv) > 3 and sys.argv[3] else {}
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
for _ in range(count):
    conn.request("GET", url.path, headers=headers)
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"{url.geturl()} answered {answer.status}")
PY
}

# callgrind_total OUT: the instructions of every dump of OUT.* so far.
callgrind_total() {
    cat "$1".* 2>/dev/null | awk '/^totals:/ { s += $2 } END { print s + 0 }'
}

# count_instructions NAME PATH AUTHORIZATION BINARY VAR=VALUE...: starts BINARY with those
# variables and PORT (a free port) under callgrind with instrumentation off, warms it with
# INSTRUCTIONS_WARMUP GETs of PATH, then counts the instructions of INSTRUCTIONS_REQUESTS
# more, in every thread of the process, and of as long again with no request. Prints
# "NET RAW": instructions per request without and with what the process spends meanwhile
# on its own (the event loops poll the store twice a second, and under callgrind the
# requests take long enough for that to rival the requests themselves).
count_instructions() {
    local name="$1" path="$2" auth="$3" binary="$4" listen out
    shift 4
    free_port listen
    out="$RUN_DIR/callgrind-$name"
    rm -f "$out".*
    spawn "callgrind-$name" "$LOG_DIR/callgrind-$name.log" env "$@" PORT="$listen" \
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p" "$binary"
    wait_http_ok "http://127.0.0.1:$listen/health" 180 "callgrind-$name" || return 1
    # The session leader exec'd valgrind: its pid is valgrind's.
    local url="http://127.0.0.1:$listen$path" pid started elapsed
    pid="$(pid_of "callgrind-$name")"
    keepalive_gets "$url" "$INSTRUCTIONS_WARMUP" "$auth"
    # callgrind_control finds the process by names that include $HOST: give it the same
    # variables the process has. Each dump zeroes the counts it wrote.
    env "$@" callgrind_control -i on "$pid" >/dev/null 2>&1
    started="$(date +%s%N)"
    keepalive_gets "$url" "$INSTRUCTIONS_REQUESTS" "$auth"
    elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
    env "$@" callgrind_control -i off "$pid" >/dev/null 2>&1
    env "$@" callgrind_control -d "$pid" >/dev/null 2>&1
    local busy idle
    busy="$(callgrind_total "$out")"
    env "$@" callgrind_control -i on "$pid" >/dev/null 2>&1
    sleep "$(( elapsed / 1000 )).$(printf '%03d' $(( elapsed % 1000 )))"
    env "$@" callgrind_control -i off "$pid" >/dev/null 2>&1
    env "$@" callgrind_control -d "$pid" >/dev/null 2>&1
    idle=$(( $(callgrind_total "$out") - busy ))
    stop "callgrind-$name"
    [[ "$busy" -gt 0 ]] || { echo "instructions: no count for $name" >&2; return 1; }
    log "instructions: $name: $busy over $INSTRUCTIONS_REQUESTS requests in ${elapsed} ms, $idle in as long idle"
    echo "$(( (busy - idle) / INSTRUCTIONS_REQUESTS )) $(( busy / INSTRUCTIONS_REQUESTS ))"
}
