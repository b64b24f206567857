#!/usr/bin/env bash
# Installs the Debian packages the tests use: docker.io (dockerd,
# containerd, runc) and busybox-static (a static /bin/busybox the Docker
# tests copy into images built FROM scratch, since no image can be pulled
# here) for the Docker scanner and installer; rpm (rpm -qlp checks the
# agent's .rpm; rpmbuild builds test/dnftest's packages), dnf and
# createrepo-c (createrepo_c, modifyrepo_c) for the dnf sandbox roots of
# test/dnftest, dnf-plugins-core (the versionlock plugin, for the
# tests of dnf versionlock holds), and shellcheck (lints the install script); for the real
# node cluster of hack/node.sh, containerd and runc (docker.io brings them
# too), containernetworking-plugins (the CNI plugins in /usr/lib/cni),
# iptables and conntrack (kube-proxy) and openssl (its certificates);
# qemu-user-static, whose qemu-aarch64-static runs the arm64 image's
# binaries on this amd64 machine; prometheus (promtool's rule unit tests of
# the chart's alerts, and a real Prometheus scraping the manager in
# test/e2e, and the AgentUpdate's Prometheus gate test in
# controllers). Idempotent: does
# nothing when all are present. It only installs; the Docker tests start
# and stop their own private dockerd.
#
#   hack/test-deps.sh
set -euo pipefail
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  missing+=(docker.io)
fi
# Debian's plain busybox is dynamically linked and would not run in an
# image FROM scratch; only busybox-static's /bin/busybox will.
installed busybox-static || missing+=(busybox-static)
command -v rpm >/dev/null 2>&1 && command -v rpmbuild >/dev/null 2>&1 || missing+=(rpm)
command -v dpkg-scanpackages >/dev/null 2>&1 || missing+=(dpkg-dev) # the apt sandbox's repositories
command -v dnf >/dev/null 2>&1 || missing+=(dnf)
installed dnf-plugins-core || missing+=(dnf-plugins-core)
command -v createrepo_c >/dev/null 2>&1 || missing+=(createrepo-c)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  missing+=(prometheus)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: need root to install ${missing[*]}" >&2
  exit 1
fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
