// Package packagetest tests the agent's packaging (packaging/): it builds
// the agent, packs it into a .deb and an .rpm with the pinned nfpm
// (hack/tool.sh nfpm, as make packages does), inspects both, installs the
// .deb into a sandbox root with dpkg, and checks the systemd unit and the
// packages' maintainer scripts. It has no code outside its tests.
package packagetest
