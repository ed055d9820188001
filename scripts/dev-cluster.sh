#!/usr/bin/env bash
# The local path: a kind cluster with a local image registry, and the dev stack deployed on it.
#
#   scripts/dev-cluster.sh [--dry-run] up [--cluster-only]     (make up)
#   scripts/dev-cluster.sh [--dry-run] down [--destroy]        (make down)
#
# up    checks the tools it needs, starts the registry container `kind-registry` (localhost:5001),
#       creates the kind cluster named in Pulumi.dev.yaml with the host's port 80 (and 443 when the
#       stack's Gateway has TLS) mapped to the Gateway's NodePorts, points each node's containerd at the registry, logs in to the local
#       file state backend (.pulumi-state), selects or creates the dev stack and runs `pulumi up`
#       with the policy pack. Every step is skipped when its result already exists, so running it
#       again converges instead of failing. --cluster-only stops before Pulumi (CI previews).
# down  deletes the kind cluster, the registry container and the dev stack's local state (which
#       describes a cluster that no longer exists; the stack file Pulumi.dev.yaml is kept).
#       --destroy runs `pulumi destroy` first.
# --dry-run prints every step and command and runs none of them: no docker, kind, kubectl or
#       pulumi is invoked. Missing tools are still reported.
#
# Settings are read, never repeated here: cluster name, Kubernetes version, NodePorts and registry
# address from Pulumi.dev.yaml (through the platform's own config loader), the kind version, node
# image and registry image from platform/event_platform/versions.py. Docs: docs/delivery.md.
#
# Environment:
#   PULUMI_BACKEND_URL        state backend (default: file://<repo>/.pulumi-state, as in the Makefile)
#   PULUMI_CONFIG_PASSPHRASE  passphrase of the dev stack's secrets (default: empty; the dev stack
#                             holds no secret config, its generated secrets stay in the local state)
set -euo pipefail

usage() {
  printf '%s\n' "usage: scripts/dev-cluster.sh [--dry-run] up [--cluster-only]" \
    "       scripts/dev-cluster.sh [--dry-run] down [--destroy]"
}

# Reads a here-document into the variable named $1 with bash alone (a dry run must work with
# nothing but bash on PATH).
read_document() { IFS= read -r -d '' "$1" || true; }

# --------------------------------------------------------------------------------------- settings
case ${BASH_SOURCE[0]} in */*) script_dir=${BASH_SOURCE[0]%/*} ;; *) script_dir=. ;; esac
REPO=$(cd -- "$script_dir/.." && pwd)
VENV_PYTHON=$REPO/.venv/bin/python
STACK=dev
REGISTRY_NAME=kind-registry
REGISTRY_INTERNAL_PORT=5000
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$REPO/.pulumi-state}
if [[ -z ${PULUMI_CONFIG_PASSPHRASE+set} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
  export PULUMI_CONFIG_PASSPHRASE=""
fi

DRY_RUN=false
COMMAND=""
CLUSTER_ONLY=false
DESTROY=false

# ---------------------------------------------------------------------------------------- output
STEP=0
step() { STEP=$((STEP + 1)); printf '\n==> %d. %s\n' "$STEP" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'dev-cluster: %s\n' "$*" >&2; exit 1; }
usage_error() { usage >&2; die "$*"; }
dry_run() { [[ $DRY_RUN == true ]]; }

# Prints a command the way a shell would read it, then runs it (except in a dry run).
run() {
  printf '    $'
  printf ' %q' "$@"
  printf '\n'
  if ! dry_run; then "$@"; fi
}

# Same, with $1 fed to the command's standard input.
run_with_input() {
  local input=${1%$'\n'}
  shift
  printf '    $'
  printf ' %q' "$@"
  printf ' <<EOF\n      %s\n    EOF\n' "${input//$'\n'/$'\n'      }"
  if ! dry_run; then "$@" <<<"$input"; fi
}

# ---------------------------------------------------------------------------------- prerequisites
install_hint() {
  case $1 in
    docker) echo "Docker Engine or Docker Desktop: https://docs.docker.com/engine/install/" ;;
    kind) echo "kind (the version in platform/event_platform/versions.py KIND_VERSION): https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    kubectl) echo "kubectl: https://kubernetes.io/docs/tasks/tools/" ;;
    pulumi) echo "Pulumi CLI (the version pinned as pulumi== in requirements.txt): https://www.pulumi.com/docs/iac/download-install/" ;;
    python) echo "the repository's venv: run 'make venv' (needs Python 3.11: https://www.python.org/downloads/)" ;;
  esac
}

check_prerequisites() {
  step "Check prerequisites: $* and the Python venv"
  local tool missing=""
  for tool in "$@"; do
    if command -v "$tool" >/dev/null 2>&1; then
      note "found $tool"
    else
      missing="$missing $tool"
    fi
  done
  if [[ -x $VENV_PYTHON ]]; then note "found $VENV_PYTHON"; else missing="$missing python"; fi
  if [[ -z $missing ]]; then return 0; fi
  for tool in $missing; do
    printf '    MISSING %s: install %s\n' "$tool" "$(install_hint "$tool")" >&2
  done
  if dry_run; then
    note "(dry run: continuing; a real run stops here)"
  else
    die "missing prerequisites:$missing (see above)"
  fi
}

check_docker_daemon() {
  if dry_run; then return 0; fi
  docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer ('docker info' failed): start Docker"
  local installed
  installed=$(kind version 2>/dev/null || true)
  if [[ $installed != "kind $KIND_VERSION "* ]]; then
    note "warning: '$installed' is not the pinned kind $KIND_VERSION (versions.py); node images are built per kind release"
  fi
}

# Reads the stack file and the pins through the platform's own code, and checks that they agree
# (kind stack, NodePort gateway, local registry, node image of the stack's Kubernetes version).
read_settings() {
  step "Read settings from Pulumi.$STACK.yaml and platform/event_platform/versions.py"
  if [[ ! -x $VENV_PYTHON ]]; then
    note "(dry run without the venv: showing placeholders)"
    CLUSTER_NAME="<cluster.name>" KUBE_CONTEXT="kind-<cluster.name>" HTTP_NODE_PORT="<httpNodePort>"
    HTTPS_NODE_PORT="<httpsNodePort>" GATEWAY_TLS=false REGISTRY_PORT="<registry port>" HOSTNAMES="<hostnames>"
    KIND_VERSION="<KIND_VERSION>" KIND_NODE_IMAGE="<KIND_NODE_IMAGE>" LOCAL_REGISTRY_IMAGE="<LOCAL_REGISTRY_IMAGE>"
    return 0
  fi
  local settings key value
  settings=$(PYTHONPATH=$REPO/platform "$VENV_PYTHON" - "$REPO" "$STACK" <<'PY'
import sys
from pathlib import Path

from event_platform import config, versions

repo, stack = Path(sys.argv[1]), sys.argv[2]
stack_file = repo / f"Pulumi.{stack}.yaml"
cfg = config.load_stack_file(stack_file)
context = cfg.cluster.context
host, _, port = cfg.collector.registry.server.partition(":")
node_version = versions.KIND_NODE_IMAGE.split(":", 1)[1].split("@")[0]
problems = [
    (cfg.cluster.type == "kind", f"cluster.type is {cfg.cluster.type!r}, expected 'kind'"),
    (context == f"kind-{cfg.cluster.name}", f"cluster.context is {context!r}, expected 'kind-{cfg.cluster.name}'"),
    (cfg.gateway.service_type == "NodePort", "gateway.serviceType must be NodePort (the kind port mappings use it)"),
    (host == "localhost" and port.isdigit(), f"collector.registry.server is {cfg.collector.registry.server!r}, "
                                            "expected localhost:<port> (the local registry)"),
    (node_version.startswith(f"v{cfg.cluster.kubernetes_version}."),
     f"versions.KIND_NODE_IMAGE is Kubernetes {node_version}, the stack asks for {cfg.cluster.kubernetes_version}"),
]
errors = [message for ok, message in problems if not ok]
if errors:
    sys.exit(f"{stack_file.name} cannot be brought up on kind:\n  " + "\n  ".join(errors))
print(f"CLUSTER_NAME={cfg.cluster.name}")
print(f"KUBE_CONTEXT={context}")
print(f"HTTP_NODE_PORT={cfg.gateway.http_node_port}")
print(f"HTTPS_NODE_PORT={cfg.gateway.https_node_port}")
print(f"GATEWAY_TLS={'true' if cfg.gateway.tls else 'false'}")
print(f"REGISTRY_PORT={port}")
print(f"HOSTNAMES={' '.join(env.hostname for env in cfg.collector.environments.values())}")
print(f"KIND_VERSION={versions.KIND_VERSION}")
print(f"KIND_NODE_IMAGE={versions.KIND_NODE_IMAGE}")
print(f"LOCAL_REGISTRY_IMAGE={versions.LOCAL_REGISTRY_IMAGE}")
PY
  ) || die "could not read the settings (see above)"
  while IFS='=' read -r key value; do
    case $key in
      CLUSTER_NAME) CLUSTER_NAME=$value ;;
      KUBE_CONTEXT) KUBE_CONTEXT=$value ;;
      HTTP_NODE_PORT) HTTP_NODE_PORT=$value ;;
      HTTPS_NODE_PORT) HTTPS_NODE_PORT=$value ;;
      GATEWAY_TLS) GATEWAY_TLS=$value ;;
      REGISTRY_PORT) REGISTRY_PORT=$value ;;
      HOSTNAMES) HOSTNAMES=$value ;;
      KIND_VERSION) KIND_VERSION=$value ;;
      KIND_NODE_IMAGE) KIND_NODE_IMAGE=$value ;;
      LOCAL_REGISTRY_IMAGE) LOCAL_REGISTRY_IMAGE=$value ;;
    esac
  done <<<"$settings"
  note "cluster $CLUSTER_NAME (context $KUBE_CONTEXT), node image $KIND_NODE_IMAGE"
  if [[ $GATEWAY_TLS == true ]]; then
    note "host ports 80 -> NodePort $HTTP_NODE_PORT, 443 -> NodePort $HTTPS_NODE_PORT"
  else
    note "host port 80 -> NodePort $HTTP_NODE_PORT (no TLS on the Gateway, so nothing listens for 443)"
  fi
  note "registry $REGISTRY_NAME ($LOCAL_REGISTRY_IMAGE) on localhost:$REGISTRY_PORT"
}

# -------------------------------------------------------------------------------------- up steps
start_registry() {
  step "Start the local image registry '$REGISTRY_NAME' on localhost:$REGISTRY_PORT"
  if dry_run; then
    note "(skipped if the container already runs; started again if it is stopped)"
  else
    case $(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true) in
      true) note "already running"; return 0 ;;
      false) run docker start "$REGISTRY_NAME"; return 0 ;;
    esac
  fi
  run docker run --detach --restart=always --publish "127.0.0.1:$REGISTRY_PORT:$REGISTRY_INTERNAL_PORT" \
    --network bridge --name "$REGISTRY_NAME" "$LOCAL_REGISTRY_IMAGE"
}

cluster_exists() {
  local name
  while read -r name; do
    if [[ $name == "$CLUSTER_NAME" ]]; then return 0; fi
  done < <(kind get clusters 2>/dev/null)
  return 1
}

# Host port 80, and 443 when the Gateway has an HTTPS listener (loopback only), reach the Gateway's
# NodePorts: a 443 mapping without a listener behind it would only turn into connection resets.
# containerd reads per-registry settings from certs.d, where the next step tells it that
# localhost:<port> is the registry container.
kind_config() {
  local https_mapping=""
  if [[ $GATEWAY_TLS == true ]]; then
    read_document https_mapping <<EOF
  - containerPort: $HTTPS_NODE_PORT
    hostPort: 443
    listenAddress: "127.0.0.1"
    protocol: TCP
EOF
  fi
  read_document KIND_CONFIG <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: $HTTP_NODE_PORT
    hostPort: 80
    listenAddress: "127.0.0.1"
    protocol: TCP
${https_mapping%$'\n'}
EOF
}

create_cluster() {
  step "Create the kind cluster '$CLUSTER_NAME'"
  if dry_run; then
    note "(skipped if 'kind get clusters' lists it)"
  elif cluster_exists; then
    note "already exists"
    return 0
  fi
  kind_config
  run_with_input "$KIND_CONFIG" kind create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" \
    --wait 120s --config -
}

configure_nodes() {
  step "Tell each node's containerd that localhost:$REGISTRY_PORT is the registry container"
  local dir="/etc/containerd/certs.d/localhost:$REGISTRY_PORT" hosts nodes node
  hosts=$(printf '[host."http://%s:%s"]' "$REGISTRY_NAME" "$REGISTRY_INTERNAL_PORT")
  if dry_run; then
    note "(for each node 'kind get nodes --name $CLUSTER_NAME' lists; the one node of this cluster:)"
    nodes="$CLUSTER_NAME-control-plane"
  else
    nodes=$(kind get nodes --name "$CLUSTER_NAME")
  fi
  for node in $nodes; do
    run docker exec "$node" mkdir -p "$dir"
    run_with_input "$hosts" docker exec -i "$node" cp /dev/stdin "$dir/hosts.toml"
  done
}

connect_registry() {
  step "Connect the registry to the 'kind' network"
  if dry_run; then
    note "(skipped if it is connected already)"
  elif [[ $(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY_NAME") != null ]]; then
    note "already connected"
    return 0
  fi
  run docker network connect kind "$REGISTRY_NAME"
}

document_registry() {
  step "Publish the registry's address in the cluster (ConfigMap kube-public/local-registry-hosting)"
  local manifest
  read_document manifest <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:$REGISTRY_PORT"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
EOF
  run_with_input "$manifest" kubectl --context "$KUBE_CONTEXT" apply -f -
}

login_state_backend() {
  step "Log in to the state backend $PULUMI_BACKEND_URL"
  if [[ $PULUMI_BACKEND_URL == file://* ]]; then
    run mkdir -p "${PULUMI_BACKEND_URL#file://}"
  fi
  run pulumi login "$PULUMI_BACKEND_URL"
}

select_stack() {
  step "Select the '$STACK' stack (created on first use)"
  run pulumi stack select --create "$STACK"
}

deploy() {
  step "Deploy the '$STACK' stack with the policy pack"
  note "(--refresh first reconciles the state with the cluster, e.g. after a cluster was deleted by hand)"
  run pulumi up --stack "$STACK" --yes --refresh --policy-pack policy
}

# ------------------------------------------------------------------------------------ down steps
destroy_stack() {
  step "Destroy what the '$STACK' stack deployed"
  if dry_run; then
    note "(skipped if the cluster does not exist)"
  elif ! cluster_exists; then
    note "no cluster '$CLUSTER_NAME': nothing to destroy"
    return 0
  fi
  run pulumi login "$PULUMI_BACKEND_URL"
  run pulumi destroy --stack "$STACK" --yes
}

stack_exists() {
  pulumi stack ls --json 2>/dev/null | "$VENV_PYTHON" -c '
import json, sys
names = [s["name"].rsplit("/", 1)[-1] for s in json.load(sys.stdin)]
sys.exit(0 if sys.argv[1] in names else 1)' "$STACK"
}

remove_stack_state() {
  step "Remove the '$STACK' stack's state (it describes the deleted cluster; Pulumi.$STACK.yaml stays)"
  if [[ $PULUMI_BACKEND_URL != file://* ]]; then
    note "skipped: $PULUMI_BACKEND_URL is not a local file backend, and only local state is removed here"
    return 0
  fi
  run pulumi login "$PULUMI_BACKEND_URL"
  if dry_run; then
    note "(skipped if 'pulumi stack ls' does not list it)"
  elif ! stack_exists; then
    note "no '$STACK' stack in $PULUMI_BACKEND_URL"
    return 0
  fi
  run pulumi stack rm "$STACK" --yes --force --preserve-config
}

delete_cluster() {
  step "Delete the kind cluster '$CLUSTER_NAME'"
  if dry_run; then
    note "(skipped if 'kind get clusters' does not list it)"
  elif ! cluster_exists; then
    note "no such cluster"
    return 0
  fi
  run kind delete cluster --name "$CLUSTER_NAME"
}

delete_registry() {
  step "Remove the registry container '$REGISTRY_NAME' (and the images pushed to it)"
  if dry_run; then
    note "(skipped if there is no such container)"
  elif ! docker inspect "$REGISTRY_NAME" >/dev/null 2>&1; then
    note "no such container"
    return 0
  fi
  run docker rm --force "$REGISTRY_NAME"
}

# -------------------------------------------------------------------------------------- commands
up() {
  check_prerequisites docker kind kubectl pulumi
  read_settings
  check_docker_daemon
  start_registry
  create_cluster
  configure_nodes
  connect_registry
  document_registry
  if [[ $CLUSTER_ONLY == true ]]; then
    printf '\nCluster %s is ready (--cluster-only: Pulumi not run).\n' "$CLUSTER_NAME"
    return 0
  fi
  login_state_backend
  select_stack
  deploy
  if dry_run; then printf '\nDry run complete: nothing was run.\n'; return 0; fi
  printf '\nThe %s stack runs on kind cluster %s. The Gateway answers on http://%s (port 80 of\n' \
    "$STACK" "$CLUSTER_NAME" "${HOSTNAMES// /, http://}"
  printf 'this machine; *.localtest.me resolves to 127.0.0.1). Tear down with: make down\n'
}

down() {
  check_prerequisites docker kind pulumi
  read_settings
  check_docker_daemon
  if [[ $DESTROY == true ]]; then destroy_stack; fi
  remove_stack_state
  delete_cluster
  delete_registry
  if dry_run; then printf '\nDry run complete: nothing was run.\n'; return 0; fi
  printf '\nCluster %s, registry %s and the local %s state are gone.\n' "$CLUSTER_NAME" "$REGISTRY_NAME" "$STACK"
}

main() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --dry-run) DRY_RUN=true ;;
      --cluster-only) CLUSTER_ONLY=true ;;
      --destroy) DESTROY=true ;;
      up | down) [[ -z $COMMAND ]] || usage_error "one command at a time"; COMMAND=$1 ;;
      -h | --help) usage; return 0 ;;
      *) usage_error "unknown argument: $1" ;;
    esac
    shift
  done
  if [[ -z $COMMAND ]]; then usage_error "say up or down"; fi
  if [[ $CLUSTER_ONLY == true && $COMMAND != up ]]; then usage_error "--cluster-only goes with up"; fi
  if [[ $DESTROY == true && $COMMAND != down ]]; then usage_error "--destroy goes with down"; fi
  cd "$REPO"
  if dry_run; then printf 'Dry run: printing the steps of "%s"; nothing is run.\n' "$COMMAND"; fi
  case $COMMAND in
    up) up ;;
    down) down ;;
  esac
}

main "$@"
