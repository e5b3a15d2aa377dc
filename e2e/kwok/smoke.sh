#!/usr/bin/env bash
# Smoke test of the kwok e2e cluster (run after `e2e/cluster up`): real scheduler, real
# EndpointSlice controller, every kubediag.io/simulate state, deletion. Uses only the API
# server on 127.0.0.1 (pod IPs and ClusterIPs are fake: nothing connects to them).
# Creates and finally deletes namespace kd-smoke. Exit 0 when every check passes.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
eval "$("$REPO/e2e/cluster" env)"
NS=kd-smoke
T=30s
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
ok() { echo "smoke: ok: $*"; }
trap 'kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

kubectl version -o json | grep -q '"gitVersion": "v1.36.3"' || fail "server version is not v1.36.3"
ok "server v1.36.3"
kubectl delete namespace "$NS" --ignore-not-found --timeout=120s >/dev/null
kubectl create namespace "$NS" >/dev/null

kubectl -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
      - {name: init, image: busybox:1.36, command: ["true"]}
      - {name: sidecar, image: envoyproxy/envoy:v1.31, restartPolicy: Always}
      containers:
      - {name: app, image: nginx:1.27, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: unschedulable}
spec:
  nodeSelector: {disktype: ssd}
  containers: [{name: app, image: nginx:1.27}]
EOF
for s in not-ready crashloop image-pull-backoff config-error no-ip; do
  kubectl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: sim-$s, labels: {kubediag.io/simulate: $s}}
spec:
  containers:
  - name: app
    image: example.com/app:v2
    env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: db-creds, key: password}}}]
EOF
done

kubectl -n "$NS" rollout status deployment/web --timeout=$T >/dev/null || fail "deployment web not available"
[ "$(kubectl -n "$NS" get pods -l app=web -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{end}')" = TrueTrueTrue ] \
  || fail "web pods not Ready"
[ "$(kubectl -n "$NS" get pods -l app=web -o jsonpath='{range .items[*]}{.status.initContainerStatuses[?(@.name=="sidecar")].started}{end}')" = truetruetrue ] \
  || fail "native sidecars not started"
case " $(kubectl -n "$NS" get pods -l app=web -o jsonpath='{.items[*].spec.nodeName}') " in *" kwok-node-c "*) fail "pod on the tainted node" ;; esac
ok "3 web pods Running/Ready (native sidecar running), none on the tainted node"
kubectl -n "$NS" get events --field-selector reason=Scheduled -o jsonpath='{.items[*].reportingComponent}' | grep -q default-scheduler \
  || fail "no Scheduled events from default-scheduler"
ok "scheduled by default-scheduler"

for _ in $(seq 100); do
  ready="$(kubectl -n "$NS" get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{" "}{end}')"
  [ "$ready" = "true true true " ] && break
  sleep 0.2
done
[ "$ready" = "true true true " ] || fail "EndpointSlice of web has ready endpoints: '$ready'"
kubectl -n "$NS" get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[*].metadata.labels.endpointslice\.kubernetes\.io/managed-by}' \
  | grep -q endpointslice-controller.k8s.io || fail "EndpointSlice not managed by the endpointslice controller"
ok "EndpointSlice with 3 ready endpoints from endpointslice-controller.k8s.io"

kubectl -n "$NS" wait pod/unschedulable --for=jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}'=Unschedulable --timeout=$T >/dev/null \
  || fail "unschedulable pod not PodScheduled=False/Unschedulable"
ok "nodeSelector mismatch: Pending, PodScheduled=False reason Unschedulable"
[ -z "$(kubectl -n "$NS" get service web-lb -o jsonpath='{.status.loadBalancer.ingress}')" ] || fail "LoadBalancer got an ingress"
ok "LoadBalancer Service stays pending"

want() { # pod jsonpath expected
  kubectl -n "$NS" wait "pod/$1" --for=jsonpath="$2"="$3" --timeout=$T >/dev/null || fail "$1: $2 is not $3"
}
want sim-not-ready '{.status.phase}' Running
want sim-not-ready '{.status.conditions[?(@.type=="Ready")].status}' False
want sim-not-ready '{.status.containerStatuses[0].started}' true
want sim-not-ready '{.status.containerStatuses[0].ready}' false
want sim-crashloop '{.status.containerStatuses[0].state.waiting.reason}' CrashLoopBackOff
want sim-crashloop '{.status.containerStatuses[0].lastState.terminated.exitCode}' 1
want sim-crashloop '{.status.phase}' Running
want sim-image-pull-backoff '{.status.containerStatuses[0].state.waiting.reason}' ImagePullBackOff
want sim-image-pull-backoff '{.status.phase}' Pending
want sim-config-error '{.status.containerStatuses[0].state.waiting.reason}' CreateContainerConfigError
want sim-config-error '{.status.containerStatuses[0].state.waiting.message}' 'secret "db-creds" not found'
want sim-no-ip '{.status.containerStatuses[0].state.waiting.reason}' ContainerCreating
[ -z "$(kubectl -n "$NS" get pod sim-no-ip -o jsonpath='{.status.podIP}')" ] || fail "sim-no-ip has a podIP"
for p in sim-not-ready sim-crashloop sim-image-pull-backoff sim-config-error; do
  [ -n "$(kubectl -n "$NS" get pod $p -o jsonpath='{.status.podIP}')" ] || fail "$p has no podIP"
done
ok "simulated states: not-ready crashloop image-pull-backoff config-error no-ip"

kubectl -n "$NS" label pod sim-image-pull-backoff kubediag.io/simulate- >/dev/null
kubectl -n "$NS" wait pod/sim-image-pull-backoff --for=condition=Ready --timeout=$T >/dev/null || fail "label removal did not make the pod Ready"
ok "removing the label from a Pending simulated pod makes it Ready"

kubectl -n "$NS" delete deployment web --timeout=$T >/dev/null
kubectl -n "$NS" wait pods -l app=web --for=delete --timeout=$T >/dev/null || fail "web pods not deleted"
ok "pod deletion"

[ "$(kubectl get pods -A -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | grep . | sort | uniq -d)" = "" ] || fail "duplicate pod IPs"
ok "no duplicate pod IPs"
kubectl delete namespace "$NS" --timeout=120s >/dev/null || fail "namespace $NS not deleted"
trap - EXIT
ok "all checks passed"
