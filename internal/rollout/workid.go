package rollout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// WorkKey identifies what a rollout asks of a host, independent of how
// fast it goes: "<name>.<hash>" where the hash covers the object's UID and
// the fields that change the work (packages or version, reboot, dry run).
// Pausing or retuning the strategy keeps the key, so no host is redone;
// changing what to install makes a new key, and every host runs it anew.
func WorkKey(au *redflagv1.AgentUpdate) string {
	what := struct {
		UID          string                      `json:"uid"`
		Packages     *redflagv1.PackageSelection `json:"packages,omitempty"`
		AgentVersion string                      `json:"agentVersion,omitempty"`
		Reboot       redflagv1.RebootPolicy      `json:"reboot,omitempty"`
		DryRun       bool                        `json:"dryRun,omitempty"`
	}{string(au.UID), au.Spec.Packages, au.Spec.AgentVersion, au.Spec.Reboot, au.Spec.DryRun}
	data, _ := json.Marshal(what) // plain structs: cannot fail
	sum := sha256.Sum256(data)
	return au.Name + "." + hex.EncodeToString(sum[:4])
}

// WorkID is the ID hosts get: the key for the first attempt, and
// "<key>.r<n>" after the n-th retry, so a retried host runs again (the
// agent runs each ID once) while hosts that succeeded keep their record.
func WorkID(key string, attempt int) string {
	if attempt == 0 {
		return key
	}
	return key + ".r" + strconv.Itoa(attempt)
}

// Attempt reads the attempt from a work ID of this key; -1 when the ID
// belongs to another key.
func Attempt(key, id string) int {
	if id == key {
		return 0
	}
	rest, ok := strings.CutPrefix(id, key+".r")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 {
		return -1
	}
	return n
}
