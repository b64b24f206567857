// Package facts gathers the slow-changing facts an agent reports about its
// host: operating system, kernel, CPU, memory, boot time, whether a reboot
// is required, and the size and use of each real filesystem.
//
// It returns the protocol's wire types (OSInfo, SystemFacts, MountStatus
// from internal/protocol, which mirror the API's), clipped to the CRD's
// length limits, so what the agent sends is what the server can store.
//
// On Linux everything is read from files under a root directory
// (Source.Root), so tests run the same code on recorded trees in testdata.
// On Windows the facts come from the registry and the Windows API, called
// through a thin interface (winAPI, implemented in collect_windows.go);
// what interprets the answers (win_*.go) is plain Go, tested on every
// platform against recorded answers in testdata/windows. Other platforms
// get a stub that reports what the Go runtime knows.
package facts
