package facts

import "unicode/utf8"

// Length limits of the Agent CRD's status fields. A longer value would
// make the server refuse the whole status update, so values are cut here.
const (
	maxHostname     = 253
	maxFamily       = 32
	maxDistribution = 64
	maxVersion      = 64
	maxPrettyName   = 128
	maxKernel       = 128
	maxArch         = 32
	maxCPUModel     = 128
	maxRebootReason = 256
	maxMountPoint   = 256
	maxDevice       = 256
	maxFSType       = 32
)

// clip cuts s to at most n bytes without splitting a UTF-8 sequence. It
// steps back at most utf8.UTFMax-1 bytes: past that s is not valid UTF-8
// there, and stepping further would throw away a whole run of stray bytes
// (down to an empty string) instead of one partial rune.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := n; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return s[:n]
}
