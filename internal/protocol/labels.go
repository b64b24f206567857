package protocol

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	// content, not pkg/util/validation (whose IsQualifiedName and
	// IsValidLabelValue are these very functions): it is a leaf of two
	// small packages, where validation links klog and k8s.io/utils into
	// the agent.
	"k8s.io/apimachinery/pkg/api/validate/content"
)

// MaxRegisterLabels is how many labels a host may ask for at enrollment:
// the same bound as a RegistrationToken's spec.agentLabels, which keeps the
// largest register body well inside MaxRegisterBody.
const MaxRegisterLabels = 32

// ReservedLabelDomain is the label prefix RedFlag keeps for itself (the
// gateway's redflag.io/os, /arch, /registration-token, and whatever later
// releases add). A host may not ask for labels under it, nor under any
// subdomain of it, as Kubernetes reserves kubernetes.io: selectors built on
// those labels must be able to trust that RedFlag set them.
const ReservedLabelDomain = "redflag.io"

// maxLabelProblems bounds how many bad labels one refusal lists, so the
// message stays readable; the count of the others is still given.
const maxLabelProblems = 3

// ValidateLabels checks the labels a host asks for in RegisterRequest.Labels:
// at most MaxRegisterLabels, each a valid Kubernetes label key and value,
// none under ReservedLabelDomain. The error names the bad labels (sorted,
// the first few), so the host's operator can fix the flag. The agent checks
// before it sends and the gateway checks again, with this one function.
func ValidateLabels(labels map[string]string) error {
	if len(labels) > MaxRegisterLabels {
		return fmt.Errorf("labels: %d given, at most %d are allowed", len(labels), MaxRegisterLabels)
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var problems []string
	for _, k := range keys {
		if p := labelProblem(k, labels[k]); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	msg := strings.Join(problems[:min(len(problems), maxLabelProblems)], "; ")
	if more := len(problems) - maxLabelProblems; more > 0 {
		msg += "; and " + strconv.Itoa(more) + " more bad labels"
	}
	return fmt.Errorf("labels: %s", msg)
}

// labelProblem says what is wrong with one label, or "" when nothing is.
func labelProblem(key, value string) string {
	if errs := content.IsLabelKey(key); len(errs) > 0 {
		return fmt.Sprintf("label key %q is not a valid Kubernetes label key: %s", key, strings.Join(errs, ", "))
	}
	if prefix, _, ok := strings.Cut(key, "/"); ok && isReserved(prefix) {
		return fmt.Sprintf("label key %q is reserved: keys under %s/ are set by RedFlag only", key, ReservedLabelDomain)
	}
	if errs := content.IsLabelValue(value); len(errs) > 0 {
		return fmt.Sprintf("label %s=%q has an invalid value: %s", key, value, strings.Join(errs, ", "))
	}
	return ""
}

// isReserved tells ReservedLabelDomain and its subdomains. A key's prefix
// is a DNS subdomain, so lower case, once IsLabelKey accepted it.
func isReserved(prefix string) bool {
	return prefix == ReservedLabelDomain || strings.HasSuffix(prefix, "."+ReservedLabelDomain)
}
