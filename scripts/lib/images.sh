# shellcheck shell=bash
# scripts/lib/images.sh: the container images, built and run with Debian's podman (no Docker
# engine needed). Used by the `images` stage of scripts/test.
#
# The root Dockerfile starts FROM two public images. When a registry cannot be reached, each is
# made here from Debian 12 packages under the exact name the Dockerfile uses (a stand-in), once
# per machine; podman keeps it, and its build layers, in its own storage for the next run:
#   rust:1.95-bookworm                     debootstrap minbase + gcc, libc6-dev, pkg-config,
#                                          ca-certificates, git, and this machine's Rust toolchain
#   gcr.io/distroless/*-debian12:nonroot   the Debian packages distroless itself is assembled
#                                          from, with its passwd/group (`nonroot` is 65532)
# Needs `log MESSAGE` from the sourcing script.

# podman with what this kind of machine needs: `runc` (crun fails on its cgroups).
pm() { podman --runtime runc "$@"; }

# Rlimits for `podman run`: the defaults podman asks for are refused here.
PODMAN_RUN_LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The most an image may weigh (MB, as `docker images` shows it); invoice-service also
# carries the invoice documents' renderer and built-in fonts (2.6 MB of its binary); the
# console has no store and no MongoDB or Redis driver (22.8 MB measured).
image_size_limit_mb() {
    case "$1" in
        invoice-service) echo 50 ;;
        console) echo 27 ;;
        *) echo 45 ;;
    esac
}
STANDIN_LABEL=billing-system.stand-in

# base_image NAME MAKER: NAME is in podman's storage afterwards: already there, pulled, or
# (when the pull fails) made by the function MAKER NAME. Says which.
base_image() {
    local name="$1" maker="$2"
    if pm image exists "$name"; then
        local standin
        standin="$(pm image inspect --format "{{ index .Labels \"$STANDIN_LABEL\" }}" "$name" 2>/dev/null || true)"
        if [[ -n "$standin" && "$standin" != "<no value>" ]]; then
            log "images: $name: the stand-in made on $standin (kept in podman's storage)"
        else
            log "images: $name: present"
        fi
        return 0
    fi
    if timeout 120 podman pull -q "$name" >/dev/null 2>&1; then
        log "images: $name: pulled"
        return 0
    fi
    log "images: $name cannot be pulled (no registry reachable): making a stand-in from Debian 12 packages"
    local start=$SECONDS
    "$maker" "$name"
    log "images: $name: stand-in made in $((SECONDS - start))s"
}

# import_rootfs DIR NAME CHANGE...: DIR as the single layer of image NAME, with Dockerfile
# instructions CHANGE (ENV, USER, WORKDIR, ...) applied; one variable per ENV.
import_rootfs() {
    local dir="$1" name="$2" args=() c
    shift 2
    for c in "$@" "LABEL $STANDIN_LABEL=$(date -u +%Y-%m-%d)"; do args+=(--change "$c"); done
    tar --numeric-owner -C "$dir" -cf - . | pm import -q "${args[@]}" - "$name" >/dev/null
}

# standin_rust NAME: Debian bookworm with a C toolchain and the machine's own Rust, laid out as
# the official image is (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo). The
# machine's CA bundle goes in too: cargo reaches the crate registry only with it here.
standin_rust() {
    local name="$1" tmp rootfs toolchain version
    version="$(rustc --version | cut -d' ' -f2)"
    toolchain="$(rustc --print sysroot)"
    tmp="$(mktemp -d)"
    rootfs="$tmp/rootfs"
    debootstrap --variant=minbase --include=gcc,libc6-dev,pkg-config,ca-certificates,git \
        bookworm "$rootfs" "$DEBIAN_MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
        { tail -n 20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; return 1; }
    local dest="$rootfs/usr/local/rustup/toolchains/$version-x86_64-unknown-linux-gnu"
    mkdir -p "$dest" "$rootfs/usr/local/cargo/bin"
    # The toolchain without its documentation (share/doc is most of its size).
    (cd "$toolchain" && tar -cf - --exclude=./share/doc .) | tar -C "$dest" -xf -
    local tool
    for tool in cargo rustc rustdoc; do
        ln -s "../../rustup/toolchains/$version-x86_64-unknown-linux-gnu/bin/$tool" "$rootfs/usr/local/cargo/bin/$tool"
    done
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
    import_rootfs "$rootfs" "$name" \
        "ENV RUSTUP_HOME=/usr/local/rustup" "ENV CARGO_HOME=/usr/local/cargo" "ENV RUST_VERSION=$version" \
        "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        "CMD [\"bash\"]"
    rm -rf "$tmp"
}

# The Debian packages each distroless image is assembled from.
distroless_packages() {
    local base=(base-files netbase tzdata media-types ca-certificates libc6)
    case "$1" in
        */base-nossl-debian12:*) echo "${base[*]}" ;;
        */base-debian12:*) echo "${base[*]} libssl3" ;;
        */cc-debian12:*) echo "${base[*]} libssl3 libgcc-s1 libstdc++6 libgomp1 gcc-12-base" ;;
        *) return 1 ;;
    esac
}

# standin_distroless NAME: its packages unpacked (no shell, no package manager, no dpkg
# database), the CA bundle built from ca-certificates' own files, `nonroot` (65532) with its
# home, and the image's defaults: USER 65532, WORKDIR /home/nonroot.
standin_distroless() {
    local name="$1" tmp rootfs deb packages
    read -r -a packages <<<"$(distroless_packages "$name")"
    tmp="$(mktemp -d)"
    rootfs="$tmp/rootfs"
    mkdir -p "$tmp/debs" "$rootfs"
    (cd "$tmp/debs" && apt-get -q -o APT::Sandbox::User=root download "${packages[@]}" >/dev/null) ||
        { rm -rf "$tmp"; return 1; }
    for deb in "$tmp/debs"/*.deb; do dpkg-deb -x "$deb" "$rootfs"; done
    # As distroless: copyright files stay, the rest of the documentation goes.
    find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
    rm -rf "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian"
    mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$rootfs/home/nonroot" "$rootfs/root"
    find "$rootfs/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat \
        >"$rootfs/etc/ssl/certs/ca-certificates.crt"
    chmod 1777 "$rootfs/tmp"
    chmod 0700 "$rootfs/root"
    chown 65532:65532 "$rootfs/home/nonroot"
    cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
    cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
    import_rootfs "$rootfs" "$name" \
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
        "USER 65532" "WORKDIR /home/nonroot"
    rm -rf "$tmp"
}

# image_size_mb NAME: the image's size in MB (10^6 bytes, as `docker images` shows it).
image_size_mb() {
    pm image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1000000 }'
}

# base_images_of DOCKERFILE: the images its FROM lines name (build arguments replaced by their
# defaults; earlier stages left out), one per line.
base_images_of() {
    awk '
        /^ARG [A-Za-z_]+=/ { split($2, kv, "="); arg[kv[1]] = kv[2] }
        /^FROM / {
            image = $2
            for (name in arg) { gsub("\\$\\{" name "\\}", arg[name], image); gsub("\\$" name, arg[name], image) }
            if (!(image in stage) && !(image in seen)) { seen[image] = 1; print image }
            if (toupper($3) == "AS") stage[$4] = 1
        }' "$1"
}

# ensure_base_images DOCKERFILE: every base image of DOCKERFILE is in podman's storage.
ensure_base_images() {
    local image
    while read -r image; do
        case "$image" in
            rust:*-bookworm)
                local want="${image#rust:}" have
                want="${want%-bookworm}"
                have="$(rustc --version | cut -d' ' -f2)"
                if [[ "$have" != "$want" && "$have" != "$want".* ]] && ! pm image exists "$image"; then
                    echo "images: $image names Rust $want, but this machine's toolchain is $have: no stand-in can be made" >&2
                    return 1
                fi
                base_image "$image" standin_rust ;;
            gcr.io/distroless/*-debian12:nonroot) base_image "$image" standin_distroless ;;
            *)
                pm image exists "$image" || timeout 120 podman pull -q "$image" >/dev/null || {
                    echo "images: $image cannot be pulled and has no stand-in here" >&2
                    return 1
                } ;;
        esac
    done < <(base_images_of "$1")
}

# build_image TARGET TAG: the Dockerfile's TARGET stage as TAG, from the repository root,
# with podman's layer cache (a re-run rebuilds only what changed).
build_image() {
    local target="$1" tag="$2" start=$SECONDS
    log "images: podman build --target $target -t $tag ."
    pm build --pull=never --format docker --layers --network host \
        --target "$target" -t "$tag" -f Dockerfile . >"$LOG_DIR/image-$target.log" 2>&1 ||
        { tail -n 40 "$LOG_DIR/image-$target.log" >&2; return 1; }
    local size limit
    size="$(image_size_mb "$tag")"
    limit="$(image_size_limit_mb "$target")"
    log "images: $tag built in $((SECONDS - start))s: $size MB (limit $limit MB)"
    awk -v size="$size" -v limit="$limit" 'BEGIN { exit !(size <= limit) }' ||
        { echo "images: $tag is $size MB, over $limit MB" >&2; return 1; }
}

# run_container NAME IMAGE ARGS...: start IMAGE detached as NAME on the host's network, with
# ARGS (-e, -v ...) before the image.
run_container() {
    local name="$1" image="$2"
    shift 2
    pm rm -f "$name" >/dev/null 2>&1 || true
    # Without systemd podman complains that it cannot start the health timer: that line is
    # dropped, any other message stays on stderr.
    pm run -d --name "$name" --network host "${PODMAN_RUN_LIMITS[@]}" "$@" "$image" \
        2> >(grep -v 'systemd connection' >&2) >/dev/null
}

# remove_check_containers: every container and volume the images stage makes (billing-check-*),
# whatever state a killed run left them in.
remove_check_containers() {
    command -v podman >/dev/null 2>&1 || return 0
    pm ps -a -q --filter name=^billing-check- | xargs -r podman --runtime runc rm -f >/dev/null 2>&1 || true
    pm volume ls -q --filter name=^billing-check- | xargs -r podman volume rm -f >/dev/null 2>&1 || true
}

# container_uid NAME: the uid its main process runs as, read from the host's /proc.
container_uid() {
    local pid
    pid="$(pm inspect --format '{{.State.Pid}}' "$1")"
    awk '/^Uid:/ { print $2 }' "/proc/$pid/status"
}

# wait_healthy NAME SECONDS: run the image's HEALTHCHECK (podman has no timer without systemd)
# until it passes; fails when it has not within SECONDS.
wait_healthy() {
    local name="$1" deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if pm healthcheck run "$name" >/dev/null 2>&1; then return 0; fi
        [[ "$(pm inspect --format '{{.State.Running}}' "$name")" == true ]] || break
        sleep 1
    done
    echo "images: $name: HEALTHCHECK did not pass; its log:" >&2
    pm logs "$name" 2>&1 | tail -n 20 >&2
    return 1
}

# stop_container NAME: SIGTERM, then its exit within 10 s with status 0; says how long it took.
stop_container() {
    local name="$1" start status
    start="$(date +%s%N)"
    pm kill --signal TERM "$name" >/dev/null
    status="$(timeout 10 podman --runtime runc wait "$name" 2>/dev/null)" || {
        echo "images: $name did not stop within 10 s of SIGTERM" >&2
        pm rm -f "$name" >/dev/null 2>&1
        return 1
    }
    log "images: $name stopped $(((($(date +%s%N) - start) / 1000000)))ms after SIGTERM, exit status $status"
    [[ "$status" == 0 ]]
}

# console_sign_in_check NAME PORT KEY: the console container NAME on PORT shows the sign-in
# page (a session cookie, a CSRF token in the form), refuses a wrong key with 401, takes KEY
# (303 to /customers: the key was checked against both services behind it) and then shows the
# customers page.
console_sign_in_check() {
    local jar rc=0
    jar="$(mktemp)"
    console_sign_in_steps "$1" "http://127.0.0.1:$2" "$3" "$jar" || rc=$?
    rm -f "$jar" "$jar.page"
    return "$rc"
}

# console_sign_in_steps NAME BASE_URL KEY COOKIE_JAR: what console_sign_in_check checks.
console_sign_in_steps() {
    local name="$1" url="$2" key="$3" jar="$4" page csrf status location
    page="$(curl -fsS --max-time 10 -c "$jar" -b "$jar" "$url/sign-in")" ||
        { echo "images: $name: GET /sign-in failed" >&2; return 1; }
    grep -Eq '<h1[^>]*>Sign in</h1>' <<<"$page" ||
        { echo "images: $name: /sign-in has no \"Sign in\" heading" >&2; return 1; }
    csrf="$(grep -Eo 'name="?csrf"? value="[^"]*"' <<<"$page" | head -n 1 | sed 's/.*value="//; s/"$//')"
    [[ -n "$csrf" ]] || { echo "images: $name: the sign-in form has no csrf token" >&2; return 1; }
    status="$(curl -sS --max-time 15 -o "$jar.page" -w '%{http_code}' -c "$jar" -b "$jar" \
        --data-urlencode "csrf=$csrf" --data-urlencode "api_key=wrong-$RANDOM-key" "$url/sign-in")"
    if [[ "$status" != 401 ]] || ! grep -q 'That API key was refused.' "$jar.page"; then
        echo "images: $name: a wrong key answered $status, not 401 \"That API key was refused.\"" >&2
        return 1
    fi
    # The form the refusal came back with (its token, should the console have made a new one).
    csrf="$(grep -Eo 'name="?csrf"? value="[^"]*"' "$jar.page" | head -n 1 | sed 's/.*value="//; s/"$//')"
    read -r status location < <(curl -sS --max-time 15 -o /dev/null -w '%{http_code} %{redirect_url}\n' \
        -c "$jar" -b "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "api_key=$key" "$url/sign-in")
    [[ "$status" == 303 && "$location" == */customers ]] ||
        { echo "images: $name: signing in answered $status ${location:-(no Location)}, not 303 to /customers" >&2; return 1; }
    page="$(curl -fsS --max-time 15 -c "$jar" -b "$jar" "$url/customers")" ||
        { echo "images: $name: GET /customers after signing in failed" >&2; return 1; }
    grep -Eq '<h1[^>]*>Customers</h1>' <<<"$page" ||
        { echo "images: $name: /customers after signing in is not the customers page" >&2; return 1; }
    log "images: $name: /sign-in shown, a wrong key refused (401), the key taken (303 to /customers), the customers page shown"
}
