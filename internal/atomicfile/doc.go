// Package atomicfile replaces files so that a crash or power cut leaves
// either the old content or the new, never a torn mix. The release store
// (internal/release) and the agent's self-update record use it: a torn
// manifest would be refused by every agent, and a torn update record would
// lose the decision between keeping and reverting a new binary.
package atomicfile
