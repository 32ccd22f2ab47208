# shellcheck shell=bash
# scripts/lib/kubernetes.sh: the offline check of the Kubernetes manifests in deploy/kubernetes/.
# check_kubernetes_manifests validates every manifest against the API schemas of pinned
# Kubernetes versions (kubernetes-validate, strict: an unknown field fails), then checks the
# rules a schema cannot: the restricted security context, the probes' paths, resources, an HPA
# and a PDB per Deployment, the kustomization listing every file. One line per check; non-zero
# when any fails. Nothing is sent to a cluster.
# Run from the repository root; needs `log MESSAGE`, VENV and venv_install (scripts/lib/tools.sh).

# The schemas validated against: the newest kubernetes-validate bundles, and the oldest cluster
# these manifests support (1.30: the preStop `sleep` action is beta and on by default from it).
KUBERNETES_SCHEMA_VERSIONS=(1.37.0 1.30.0)

# check_kubernetes_manifests [DIR]: the manifests under DIR (default deploy/kubernetes).
check_kubernetes_manifests() {
    local dir="${1:-deploy/kubernetes}" rc=0 out version files=()
    venv_install .kubernetes.stamp scripts/requirements-kubernetes.txt
    [[ -f "$dir/kustomization.yaml" ]] || { log "kubernetes: FAILED: no $dir/kustomization.yaml"; return 1; }
    mapfile -t files < <(find "$dir" -type f \( -name '*.yaml' -o -name '*.yml' \) ! -name kustomization.yaml | LC_ALL=C sort)
    [[ ${#files[@]} -gt 0 ]] || { log "kubernetes: FAILED: no manifest under $dir"; return 1; }
    log "kubernetes: kubernetes-validate $("$VENV/bin/kubernetes-validate" --version), ${#files[@]} manifests under $dir"

    for version in "${KUBERNETES_SCHEMA_VERSIONS[@]}"; do
        if out="$("$VENV/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" "${files[@]}" 2>&1)" &&
            [[ -z "$out" ]]; then
            log "kubernetes: ok: schemas of Kubernetes $version, strict: all ${#files[@]} manifests valid"
        else
            log "kubernetes: FAILED: schemas of Kubernetes $version, strict:"
            printf '%s\n' "$out" | sed "s|^|    |"
            rc=1
        fi
    done

    # What kustomize makes of the directory, when kubectl is at hand (it is not installed by
    # the project: the python check below reads kustomization.yaml's resources itself).
    if command -v kubectl >/dev/null 2>&1; then
        local tmp rendered
        tmp="$(mktemp -d)"
        rendered="$tmp/kubectl-kustomize.yaml"
        if out="$(kubectl kustomize "$dir" 2>&1 >"$rendered")" &&
            out+="$("$VENV/bin/kubernetes-validate" --strict --quiet \
                --kubernetes-version "${KUBERNETES_SCHEMA_VERSIONS[0]}" "$rendered" 2>&1)" && [[ -z "$out" ]]; then
            log "kubernetes: ok: kubectl kustomize $dir renders $(grep -c '^kind:' "$rendered") valid resources"
        else
            log "kubernetes: FAILED: kubectl kustomize $dir:"
            printf '%s\n' "$out" | sed "s|^|    |"
            rc=1
        fi
        rm -rf "$tmp"
    else
        log "kubernetes: skipped: kubectl kustomize (no kubectl on PATH)"
    fi

    "$VENV/bin/python" - "$dir" service-kit/src/server.rs <<'PY' || rc=1
"""The rules of deploy/kubernetes that no API schema checks. One line per check."""
import os
import re
import sys

import yaml

root, server_rs = sys.argv[1], sys.argv[2]
NAMESPACE = "billing-system"
UID = 65532
failed = 0


def check(what, problems):
    global failed
    if problems:
        failed += 1
        print(f"kubernetes: FAILED: {what}: " + "; ".join(problems))
    else:
        print(f"kubernetes: ok: {what}")


def dig(obj, *path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# Every manifest, by file; the kustomization apart.
manifests = []
files = []
for base, dirs, names in os.walk(root):
    dirs.sort()
    for name in sorted(names):
        if name.endswith((".yaml", ".yml")) and not (base == root and name == "kustomization.yaml"):
            rel = os.path.relpath(os.path.join(base, name), root)
            files.append(rel)
            with open(os.path.join(root, rel)) as f:
                for doc in yaml.safe_load_all(f):
                    if doc:
                        manifests.append((rel, doc))


def of_kind(kind):
    return [(f, m) for f, m in manifests if m.get("kind") == kind]


def name(m):
    return dig(m, "metadata", "name")


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels only, as these manifests use) selects `labels`."""
    if not isinstance(selector, dict) or "matchExpressions" in selector:
        return False
    match = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in match.items())


# The kustomization lists every manifest, and only files that exist.
with open(os.path.join(root, "kustomization.yaml")) as f:
    kustomization = yaml.safe_load(f) or {}
listed = kustomization.get("resources") or []
problems = [f"{f} not listed" for f in files if f not in listed]
problems += [f"{r} listed but missing" for r in listed if r not in files]
problems += [f"{r} listed twice" for r in sorted({r for r in listed if listed.count(r) > 1})]
check(f"kustomization.yaml lists every manifest ({len(files)})", problems)

# The namespace, restricted; everything in it, labelled as part of the billing system.
problems = []
namespaces = [m for _, m in of_kind("Namespace") if name(m) == NAMESPACE]
if not namespaces:
    problems.append(f"no Namespace {NAMESPACE}")
elif dig(namespaces[0], "metadata", "labels", "pod-security.kubernetes.io/enforce") != "restricted":
    problems.append("label pod-security.kubernetes.io/enforce is not restricted")
check(f"namespace {NAMESPACE} enforces the restricted Pod Security Standard", problems)

problems = []
for f, m in manifests:
    if m.get("kind") != "Namespace" and dig(m, "metadata", "namespace") != NAMESPACE:
        problems.append(f"{f}: {m.get('kind')}/{name(m)} not in namespace {NAMESPACE}")
    if dig(m, "metadata", "labels", "app.kubernetes.io/part-of") != "billing-system":
        problems.append(f"{f}: {m.get('kind')}/{name(m)} lacks app.kubernetes.io/part-of: billing-system")
check("every resource in the namespace, labelled app.kubernetes.io/part-of", problems)

# The Secrets and ConfigMaps the pods name, with the keys they name.
secrets = {name(m): set((m.get("stringData") or {}) | (m.get("data") or {})) for _, m in of_kind("Secret")}
configmaps = {name(m) for _, m in of_kind("ConfigMap")}

# The service's own drain on SIGTERM, which terminationGracePeriodSeconds must outlast.
try:
    with open(server_rs) as f:
        drain = int(re.search(r"SHUTDOWN_GRACE: Duration = Duration::from_secs\((\d+)\)", f.read()).group(1))
except (OSError, AttributeError) as e:
    drain = None
    check(f"SHUTDOWN_GRACE read from {server_rs}", [str(e) or "not found"])

deployments = of_kind("Deployment")
if not deployments:
    check("Deployments present", ["none"])
hpas = of_kind("HorizontalPodAutoscaler")
pdbs = of_kind("PodDisruptionBudget")
services = of_kind("Service")
policies = of_kind("NetworkPolicy")

for f, d in deployments:
    what = f"deployment/{name(d)}"
    spec = d.get("spec") or {}
    template = spec.get("template") or {}
    labels = dig(template, "metadata", "labels") or {}
    pod = template.get("spec") or {}
    containers = (pod.get("containers") or []) + (pod.get("initContainers") or [])

    problems = []
    for key in ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component"):
        for where, have in (("deployment", dig(d, "metadata", "labels") or {}), ("pod template", labels)):
            if not have.get(key):
                problems.append(f"{where} lacks label {key}")
    if not selects(spec.get("selector"), labels):
        problems.append("selector does not select the pod template")
    check(f"{what}: labels name, part-of, component", problems)

    problems = []
    if (spec.get("replicas") or 1) < 2:
        problems.append(f"replicas {spec.get('replicas')} < 2")
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or dig(strategy, "rollingUpdate", "maxUnavailable") != 0:
        problems.append("not a rolling update with maxUnavailable 0")
    check(f"{what}: 2+ replicas, rolling update with maxUnavailable 0", problems)

    problems = []
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        problems.append("pod runAsNonRoot is not true")
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        if psc.get(key) != UID:
            problems.append(f"pod {key} is not {UID}")
    if dig(psc, "seccompProfile", "type") != "RuntimeDefault":
        problems.append("pod seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken is not false")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"{key} set")
    for c in containers:
        csc = c.get("securityContext") or {}
        if csc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation is not false")
        if csc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{c['name']}: readOnlyRootFilesystem is not true")
        if "ALL" not in (dig(csc, "capabilities", "drop") or []):
            problems.append(f"{c['name']}: capabilities do not drop ALL")
        if dig(csc, "capabilities", "add"):
            problems.append(f"{c['name']}: capabilities added")
        if csc.get("privileged"):
            problems.append(f"{c['name']}: privileged")
        if csc.get("runAsUser") == 0 or csc.get("runAsNonRoot") is False:
            problems.append(f"{c['name']}: runs as root")
    check(f"{what}: restricted securityContext (pod and every container), no service account token", problems)

    problems = []
    for c in containers:
        r = c.get("resources") or {}
        for kind, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if not dig(r, kind, key):
                problems.append(f"{c['name']}: no {kind}.{key}")
    check(f"{what}: resources (cpu and memory requests, memory limit)", problems)

    problems = []
    for c in pod.get("containers") or []:
        ports = {p.get("name") for p in c.get("ports") or []} | {p.get("containerPort") for p in c.get("ports") or []}
        for probe, path in (("startupProbe", "/health"), ("readinessProbe", "/ready"), ("livenessProbe", "/health")):
            get = dig(c, probe, "httpGet")
            if not get:
                problems.append(f"{c['name']}: no {probe} httpGet")
                continue
            if get.get("path") != path:
                problems.append(f"{c['name']}: {probe} asks {get.get('path')}, not {path}")
            if get.get("port") not in ports:
                problems.append(f"{c['name']}: {probe} port {get.get('port')} is not a container port")
    check(f"{what}: probes startup /health, readiness /ready, liveness /health", problems)

    problems = []
    grace = pod.get("terminationGracePeriodSeconds", 30)
    for c in pod.get("containers") or []:
        pause = dig(c, "lifecycle", "preStop", "sleep", "seconds") or 0
        if drain is not None and grace <= pause + drain:
            problems.append(f"{c['name']}: terminationGracePeriodSeconds {grace} <= preStop {pause} s + drain {drain} s")
    check(f"{what}: terminationGracePeriodSeconds {grace} outlasts preStop and the {drain} s drain", problems)

    problems = []
    for c in containers:
        for env in c.get("env") or []:
            ref = dig(env, "valueFrom", "secretKeyRef")
            if ref and ref.get("key") not in secrets.get(ref.get("name"), set()):
                problems.append(f"{c['name']}: {env['name']} names {ref.get('name')}/{ref.get('key')}, which no Secret here has")
            ref = dig(env, "valueFrom", "configMapKeyRef")
            if ref and ref.get("name") not in configmaps:
                problems.append(f"{c['name']}: {env['name']} names ConfigMap {ref.get('name')}, not here")
        for source in c.get("envFrom") or []:
            if "configMapRef" in source and dig(source, "configMapRef", "name") not in configmaps:
                problems.append(f"{c['name']}: envFrom ConfigMap {dig(source, 'configMapRef', 'name')} not here")
            if "secretRef" in source and dig(source, "secretRef", "name") not in secrets:
                problems.append(f"{c['name']}: envFrom Secret {dig(source, 'secretRef', 'name')} not here")
    check(f"{what}: every Secret and ConfigMap it names exists", problems)

    problems = []
    mine = [h for _, h in hpas if dig(h, "spec", "scaleTargetRef", "kind") == "Deployment"
            and dig(h, "spec", "scaleTargetRef", "name") == name(d)]
    if len(mine) != 1:
        problems.append(f"{len(mine)} HPAs target it")
    for h in mine:
        if h.get("apiVersion") != "autoscaling/v2":
            problems.append(f"HPA apiVersion {h.get('apiVersion')}")
        low, high = dig(h, "spec", "minReplicas") or 1, dig(h, "spec", "maxReplicas") or 0
        if low < 2 or high < low:
            problems.append(f"HPA replicas {low}..{high}")
        if not any(dig(m, "resource", "name") == "cpu" and dig(m, "resource", "target", "type") == "Utilization"
                   for m in dig(h, "spec", "metrics") or []):
            problems.append("HPA has no CPU utilisation target")
    check(f"{what}: an autoscaling/v2 HPA on CPU, min 2", problems)

    problems = []
    mine = [p for _, p in pdbs if selects(dig(p, "spec", "selector"), labels)]
    if len(mine) != 1:
        problems.append(f"{len(mine)} PDBs select its pods")
    for p in mine:
        if p.get("apiVersion") != "policy/v1":
            problems.append(f"PDB apiVersion {p.get('apiVersion')}")
        if (dig(p, "spec", "minAvailable") or 0) < 1 and dig(p, "spec", "maxUnavailable") is None:
            problems.append("PDB minAvailable < 1")
    check(f"{what}: a policy/v1 PDB, minAvailable 1+", problems)

    problems = []
    ports = set()
    for c in pod.get("containers") or []:
        for p in c.get("ports") or []:
            ports |= {p.get("name"), p.get("containerPort")}
    mine = [s for _, s in services if dig(s, "spec", "selector")
            and all(labels.get(k) == v for k, v in dig(s, "spec", "selector").items())]
    if not mine:
        problems.append("no Service selects its pods")
    for s in mine:
        if dig(s, "spec", "type") not in (None, "ClusterIP"):
            problems.append(f"service/{name(s)} is {dig(s, 'spec', 'type')}")
        for p in dig(s, "spec", "ports") or []:
            if p.get("targetPort", p.get("port")) not in ports:
                problems.append(f"service/{name(s)} targets port {p.get('targetPort')}, not a container port")
    check(f"{what}: a ClusterIP Service on its container port", problems)

    problems = []
    mine = [p for _, p in policies if selects(dig(p, "spec", "podSelector"), labels)
            and dig(p, "spec", "podSelector", "matchLabels")]
    if not any({"Ingress", "Egress"} <= set(dig(p, "spec", "policyTypes") or []) for p in mine):
        problems.append("no NetworkPolicy of its own with both Ingress and Egress rules")
    check(f"{what}: a NetworkPolicy of its own (ingress and egress)", problems)

problems = []
if not any(dig(p, "spec", "podSelector") == {} and set(dig(p, "spec", "policyTypes") or []) == {"Ingress", "Egress"}
           and not dig(p, "spec", "ingress") and not dig(p, "spec", "egress") for _, p in policies):
    problems.append("no NetworkPolicy with podSelector {} denying all ingress and egress")
check("network policy: default deny of all ingress and egress", problems)

problems = []
dns = set()
for _, p in policies:
    if dig(p, "spec", "podSelector") != {}:
        continue
    for rule in dig(p, "spec", "egress") or []:
        if any(dig(t, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name") == "kube-system"
               for t in rule.get("to") or []):
            dns |= {(q.get("protocol", "TCP"), q.get("port")) for q in rule.get("ports") or []}
for need in (("UDP", 53), ("TCP", 53)):
    if need not in dns:
        problems.append(f"no egress to kube-system on {need[0]} {need[1]} for every pod")
check("network policy: DNS egress to kube-system, UDP and TCP 53", problems)

sys.exit(1 if failed else 0)
PY
    return "$rc"
}
