#!/usr/bin/env bash
# A real single-node Kubernetes cluster for tests, on this machine: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, containerd (with
# runc and the CNI plugins from Debian), kubelet and kube-proxy (iptables
# mode). Nothing is pulled from a registry: the Kubernetes binaries are built
# from the module proxy (the same pinned k8s.io/kubernetes as envtest, in
# hack/envtest/go.mod) and the images (a pause image and a busybox image,
# both FROM scratch) are built here as OCI archives and imported.
#
#   hack/node.sh build        # build what is missing; prints the cache dir
#   hack/node.sh start DIR    # start a cluster whose state lives in DIR
#   hack/node.sh stop DIR     # stop it and undo what it did to the host
#
# After start, DIR/kubeconfig is an admin kubeconfig and DIR/env holds
# KUBECONFIG, the node's name and the image names (shell syntax). Progress
# and errors go to stderr; `build` prints only the cache directory, `start`
# only DIR.
#
# The binaries live in ${REDFLAG_CACHE:-~/.cache/redflag}/node/<k8s version>/,
# next to envtest's; kube-apiserver, etcd and kubectl come from
# hack/envtest.sh. Needs root, and the Debian packages of hack/test-deps.sh
# (containerd, runc, containernetworking-plugins, conntrack, iptables).
#
# What this touches outside DIR, and stop undoes: a cgroup /redflag-node
# under each cgroup v1 controller (the kubelet's cgroupRoot), the bridge
# rfnode0, the kubelet's device-plugin socket under /var/lib/kubelet and its
# log links in /var/log/containers (both paths are fixed in the kubelet),
# libcni's result cache in /var/lib/cni/results, the iptables chains of
# kube-proxy and the kubelet (KUBE-*, IPv4 and IPv6), and the sysctls
# the kubelet sets (kernel.panic, kernel.panic_on_oops,
# vm.overcommit_memory: saved at start, restored at stop). Because of those
# host-wide names only one such cluster runs per machine at a time; start
# refuses a second.
set -euo pipefail
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
tools="$here/envtest"
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2}' "$tools/go.mod")
binaries=(kubelet kube-proxy kube-scheduler kube-controller-manager)
cache="${REDFLAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/redflag}/node/${k8s_version}"

# Fixed names: the cluster is one per machine (see above).
node_name=redflag-node
cgroup_root=/redflag-node
bridge=rfnode0
pod_cidr=10.213.0.0/24
service_cidr=10.214.0.0/24
api_service_ip=10.214.0.1
pause_image=redflag.local/pause:1
busybox_image=redflag.local/busybox:1
active=/run/redflag-node.dir

say() { echo "node: $*" >&2; }
die() { say "$*"; exit 1; }

have_all() {
  local b
  for b in "${binaries[@]}"; do [ -x "$cache/$b" ] || return 1; done
}

build() {
  if have_all; then
    echo "$cache"
    return
  fi
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  local b missing=()
  for b in "${binaries[@]}"; do [ -x "$cache/$b" ] || missing+=("$b"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "building ${missing[*]} (Kubernetes $k8s_version) from the Go module proxy into $cache"
    say "a first build takes about fifteen minutes on 2 cores; later runs reuse it"
  fi
  for b in "${missing[@]}"; do
    local start=$SECONDS status=0
    say "building $b ..."
    ( while sleep 60; do say "  still building $b ($((SECONDS - start))s so far)"; done ) &
    local ticker=$!
    (cd "$tools" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags=-s \
      -o "$cache/$b.tmp" "k8s.io/kubernetes/cmd/$b") || status=$?
    kill "$ticker" 2>/dev/null || true
    wait "$ticker" 2>/dev/null || true
    if [ "$status" -ne 0 ]; then
      rm -f "$cache/$b.tmp"
      die "building $b failed (exit $status)"
    fi
    mv "$cache/$b.tmp" "$cache/$b"
    say "built $b in $((SECONDS - start))s"
  done
  echo "$cache"
}

# images DIR: the pause and busybox images as OCI archives in DIR.
images() {
  local out=$1
  mkdir -p "$out"
  (cd "$root" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags=-s -o "$out/pause" ./hack/node/pause)
  (cd "$root" && GOFLAGS=-buildvcs=false go build -o "$out/mkimage" ./hack/node/mkimage)
  "$out/mkimage" -o "$out/pause.tar" -ref "$pause_image" -entrypoint /pause "$out/pause=/pause"
  local links=() a
  for a in sh ls cat echo sleep wget nc ip ifconfig hostname env ps true false test grep nslookup; do
    links+=(-link "bin/$a=busybox")
  done
  "$out/mkimage" -o "$out/busybox.tar" -ref "$busybox_image" -entrypoint /bin/sh "${links[@]}" /bin/busybox=/bin/busybox
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local what=$1 timeout=$2 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "$what not ready within ${timeout}s"
      return 1
    fi
    sleep 1
  done
}

# launch NAME COMMAND...: runs COMMAND in the background, in its own session,
# logging to DIR/logs/NAME.log; its pid goes to DIR/pids/NAME.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name"
}

# alive NAME: whether the process started as NAME still runs.
alive() {
  local pid
  pid=$(cat "$dir/pids/$1" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# check NAME: fails with the tail of NAME's log when it has exited.
check() {
  if ! alive "$1"; then
    say "$1 exited; the end of $dir/logs/$1.log:"
    tail -n 30 "$dir/logs/$1.log" >&2 || true
    return 1
  fi
}

# cert NAME CN O [SANS]: a key and a certificate signed by the cluster CA.
cert() {
  local name=$1 cn=$2 o=$3 sans=${4:-} subj
  subj="/CN=$cn"
  [ -n "$o" ] && subj="/O=$o$subj"
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# kubeconfig NAME: DIR/NAME.kubeconfig with the client cert pki/NAME.
kubeconfig() {
  cat >"$dir/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: redflag-node
  cluster:
    server: https://$node_ip:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: $1
  user:
    client-certificate: $pki/$1.crt
    client-key: $pki/$1.key
contexts:
- name: redflag-node
  context: {cluster: redflag-node, user: $1}
current-context: redflag-node
EOF
}

# running_elsewhere DIR: prints the directory of a cluster that runs in
# another directory than DIR, if one does (one of its processes is alive).
running_elsewhere() {
  local other
  other=$(cat "$active" 2>/dev/null) || return 0
  [ "$other" != "$1" ] || return 0
  local f
  for f in "$other"/pids/*; do
    [ -f "$f" ] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then
      echo "$other"
      return 0
    fi
  done
}

start() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (the kubelet, containerd and kube-proxy need it)"
  mkdir -p "$1"
  local other
  other=$(running_elsewhere "$(cd "$1" && pwd)")
  [ -z "$other" ] || die "a node cluster already runs in $other (only one per machine); hack/node.sh stop $other"
  # From here on a failure stops what did start (the EXIT trap).
  dir=$1
  local b
  for b in containerd containerd-shim-runc-v2 runc ctr iptables conntrack openssl python3; do
    command -v "$b" >/dev/null || die "$b not found; run hack/test-deps.sh"
  done
  [ -x /usr/lib/cni/bridge ] || die "/usr/lib/cni/bridge not found; run hack/test-deps.sh"
  local envtest
  envtest=$("$here/envtest.sh")
  build >/dev/null
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/logs" "$dir/pids" "$dir/pki" "$dir/images" "$dir/cni/net.d" "$dir/cni/ipam"
  echo "$dir" >"$active"
  pki=$dir/pki
  node_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="src") {print $(i+1); exit}}')
  [ -n "$node_ip" ] || die "cannot find this machine's IPv4 address (no default route)"
  api_port=$(free_port)
  local etcd_port etcd_peer kubelet_port kubelet_healthz proxy_healthz proxy_metrics
  etcd_port=$(free_port)
  etcd_peer=$(free_port)
  kubelet_port=$(free_port)
  kubelet_healthz=$(free_port)
  proxy_healthz=$(free_port)
  proxy_metrics=$(free_port)

  say "building the images"
  images "$dir/images"

  say "making the certificates"
  openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=redflag-node-ca" -days 30 -sha256 -out "$pki/ca.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$node_ip,IP:$api_service_ip"
  cert kubelet-serving "system:node:$node_name" system:nodes "DNS:$node_name,IP:$node_ip,IP:127.0.0.1"
  cert admin redflag-admin system:masters
  cert kubelet "system:node:$node_name" system:nodes
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert proxy system:kube-proxy ""
  local c
  for c in admin kubelet controller-manager scheduler proxy; do kubeconfig "$c"; done
  cp "$dir/admin.kubeconfig" "$dir/kubeconfig"

  say "starting etcd"
  launch etcd "$envtest/etcd" --name=redflag-node --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="redflag-node=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$etcd_port/health" || { check etcd; return 1; }

  say "starting kube-apiserver on $node_ip:$api_port"
  launch kube-apiserver "$envtest/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=0.0.0.0 --advertise-address="$node_ip" --secure-port="$api_port" \
    --cert-dir="$dir/apiserver" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/admin.crt" --kubelet-client-key="$pki/admin.key" \
    --kubelet-certificate-authority="$pki/ca.crt" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$service_cidr" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true
  wait_for kube-apiserver 120 kubectl_ get --raw=/readyz || { check kube-apiserver; return 1; }

  say "starting kube-controller-manager and kube-scheduler"
  launch kube-controller-manager "$cache/kube-controller-manager" \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
    --secure-port=0 --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --use-service-account-credentials=true --service-cluster-ip-range="$service_cidr" \
    --controllers='*'
  launch kube-scheduler "$cache/kube-scheduler" \
    --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --secure-port=0 --leader-elect=false

  say "starting containerd"
  cat >"$dir/cni/net.d/10-redflag.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "redflag-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{"subnet": "$pod_cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  mkdir -p "$dir/containerd"
  cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
plugin_dir = ""
[grpc]
  address = "$dir/containerd/containerd.sock"
[ttrpc]
  address = "$dir/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  disable_apparmor = true
  # The pods' network namespaces under DIR, not /run/netns.
  netns_mounts_under_state_dir = true
  # Our machines drop CAP_SYS_RESOURCE from every process's bounding set,
  # so no process may lower an oom_score_adj: without this, runc fails
  # every pod sandbox (the kubelet asks for -998) with "nsexec: failed to
  # update /proc/self/oom_score_adj: Permission denied" and "can't get
  # final child's PID from pipe: EOF". With it, containerd never asks for
  # less than its own score.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  launch containerd containerd --config "$dir/containerd/config.toml"
  wait_for containerd 60 ctr_ version || { check containerd; return 1; }
  local img
  for img in pause busybox; do
    ctr_ -n k8s.io images import --no-unpack=false "$dir/images/$img.tar" >&2 || die "importing $img.tar failed"
  done

  say "starting the kubelet"
  # The kubelet sets these; stop puts them back.
  sysctl -n kernel.panic kernel.panic_on_oops vm.overcommit_memory >"$dir/sysctl.saved"
  local ctrl
  for ctrl in /sys/fs/cgroup/*/; do
    [ -e "$ctrl/cgroup.procs" ] || continue
    mkdir -p "$ctrl$cgroup_root"
    if [ -e "$ctrl/cpuset.cpus" ]; then
      cat "$ctrl/cpuset.cpus" >"$ctrl$cgroup_root/cpuset.cpus"
      cat "$ctrl/cpuset.mems" >"$ctrl$cgroup_root/cpuset.mems"
    fi
  done
  cat >"$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 (hybrid): the kubelet refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $cgroup_root
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
failSwapOn: false
address: $node_ip
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
podLogsDir: $dir/pods
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# A test machine's disk may be fuller than a real node's.
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  launch kubelet "$cache/kubelet" --config="$dir/kubelet.yaml" \
    --kubeconfig="$dir/kubelet.kubeconfig" --root-dir="$dir/kubelet" --cert-dir="$dir/kubelet/pki" \
    --hostname-override="$node_name" --node-ip="$node_ip" --v=2

  say "starting kube-proxy"
  cat >"$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $dir/proxy.kubeconfig}
mode: iptables
hostnameOverride: $node_name
clusterCIDR: $pod_cidr
healthzBindAddress: 127.0.0.1:$proxy_healthz
metricsBindAddress: 127.0.0.1:$proxy_metrics
# Leave the host's conntrack and localnet sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
  launch kube-proxy "$cache/kube-proxy" --config="$dir/kube-proxy.yaml" --v=2

  say "waiting for node $node_name to become Ready"
  local deadline=$((SECONDS + 180))
  until kubectl_ get node "$node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True; do
    for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
      check "$c" || return 1
    done
    if [ $SECONDS -ge $deadline ]; then
      say "node $node_name not Ready within 180s; kubectl describe node and the kubelet's log:"
      kubectl_ describe node "$node_name" >&2 || true
      tail -n 40 "$dir/logs/kubelet.log" >&2 || true
      return 1
    fi
    sleep 2
  done
  cat >"$dir/env" <<EOF
KUBECONFIG=$dir/kubeconfig
NODE_NAME=$node_name
PAUSE_IMAGE=$pause_image
BUSYBOX_IMAGE=$busybox_image
KUBECTL=$envtest/kubectl
EOF
  started=1
  say "node $node_name is Ready; KUBECONFIG=$dir/kubeconfig"
  echo "$dir"
}

kubectl_() { "$envtest/kubectl" --kubeconfig="$dir/admin.kubeconfig" --request-timeout=10s "$@"; }
ctr_() { ctr --address "$dir/containerd/containerd.sock" "$@"; }

# terminate NAME: SIGTERM, then SIGKILL after 15s, to the process (and its
# session) started as NAME.
terminate() {
  local pid i
  pid=$(cat "$dir/pids/$1" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pids/$1"
}

stop() {
  dir=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  local other
  other=$(running_elsewhere "$dir")
  if [ -n "$other" ]; then
    die "the node cluster that runs is the one in $other, not $dir: nothing stopped"
  fi
  local envtest
  envtest=$("$here/envtest.sh" 2>/dev/null || true)
  terminate kube-proxy
  terminate kubelet
  terminate kube-scheduler
  terminate kube-controller-manager

  # The pods' containers outlive the kubelet: kill them through containerd,
  # and remember the network namespaces of their sandboxes.
  local sock=$dir/containerd/containerd.sock netns=() ids=() id ns
  if [ -S "$sock" ] && alive containerd; then
    for id in $(ctr_ -n k8s.io containers ls -q 2>/dev/null); do
      ns=$(ctr_ -n k8s.io containers info "$id" 2>/dev/null |
        python3 -c 'import json,sys
for n in json.load(sys.stdin).get("Spec",{}).get("linux",{}).get("namespaces",[]):
    if n.get("type")=="network" and n.get("path"): print(n["path"])' 2>/dev/null || true)
      [ -n "$ns" ] && netns+=("$ns")
      ids+=("$id")
      ctr_ -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 1
    for id in $(ctr_ -n k8s.io containers ls -q 2>/dev/null); do
      ctr_ -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
      ctr_ -n k8s.io containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  terminate containerd
  # Shims whose containerd is gone: they name our socket on their command line.
  local pid
  for pid in $(pgrep -f -- "-address $sock" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
  terminate kube-apiserver
  terminate etcd

  for ns in $(printf '%s\n' "${netns[@]}" | sort -u); do
    case $ns in /var/run/netns/* | /run/netns/*) umount "$ns" 2>/dev/null || true; rm -f "$ns" ;; esac
  done
  ip link delete "$bridge" 2>/dev/null || true
  if [ -x "$cache/kube-proxy" ]; then
    "$cache/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  # What is left (the kubelet's canary and firewall chains, for IPv4 and
  # IPv6): the jumps from the built-in chains, then the KUBE-* chains.
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in mangle nat filter; do
      "$cmd" -t "$table" -S 2>/dev/null | { grep -E '^-A [A-Z]+ .*-j KUBE-' || true; } | while read -r rule; do
        eval "$cmd -t $table ${rule/#-A/-D}" 2>/dev/null || true
      done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do
        "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do
        "$cmd" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done

  # Mounts under DIR (pod volumes, overlay snapshots, shm), deepest first.
  local m
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done

  # The kubelet's cgroups, children first.
  local ctrl
  for ctrl in /sys/fs/cgroup/*/; do
    [ -d "$ctrl$cgroup_root" ] || continue
    find "$ctrl$cgroup_root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done

  # Host paths the kubelet and libcni use whatever they are told: the CNI
  # results cache of the sandboxes killed above (no CNI DEL ran for them),
  # the kubelet's device-plugin socket, the /var/log/containers links.
  rm -f /var/lib/cni/results/redflag-node-*
  for id in "${ids[@]}"; do rm -f "/var/lib/cni/results/cni-loopback-$id-lo"; done
  rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  local link
  for link in /var/log/containers/*.log; do
    [ -L "$link" ] || continue
    case $(readlink "$link") in "$dir"/*) rm -f "$link" ;; esac
  done
  rmdir /var/log/containers 2>/dev/null || true

  if [ -f "$dir/sysctl.saved" ]; then
    local keys=(kernel.panic kernel.panic_on_oops vm.overcommit_memory) i=0 v
    while read -r v; do sysctl -qw "${keys[$i]}=$v" || true; i=$((i + 1)); done <"$dir/sysctl.saved"
    rm -f "$dir/sysctl.saved"
  fi
  [ "$(cat "$active" 2>/dev/null)" = "$dir" ] && rm -f "$active"
  rmdir "$dir/pids" 2>/dev/null || true
  say "stopped the node cluster in $dir"
}

case ${1:-} in
build) build ;;
start)
  [ $# -eq 2 ] || die "usage: $0 start DIR"
  # A start that fails half way stops what it did start.
  trap 'if [ "${started:-}" != 1 ] && [ -n "${dir:-}" ]; then say "start failed; stopping what did start"; stop "$dir" || true; fi' EXIT
  start "$2"
  ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
images) [ $# -eq 2 ] || die "usage: $0 images DIR"; images "$2" ;;
*) die "usage: $0 build | start DIR | stop DIR | images DIR" ;;
esac
