// Package dockertest gives tests a real, private Docker engine and an
// in-process registry: Start runs dockerd as root with its own socket,
// data root, exec root and containerd namespace under a temporary
// directory (no bridge, no iptables, so the host's networking and any
// system dockerd are untouched) and stops it when the test ends;
// StartRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1, which the engine reaches over plain HTTP. Images are built
// FROM scratch around a static busybox, since none can be pulled here.
//
// hack/test-deps.sh installs what it needs (docker.io,
// busybox-static). Require skips a test loudly when dockerd is missing,
// and fails it instead when CI is set, so CI can never pass by skipping.
package dockertest
