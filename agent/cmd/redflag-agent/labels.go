package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/redflag-io/redflag/internal/protocol"
)

// labelsFlag is register's --labels key=value,key2=value2: the labels the
// host asks for on its Agent. The flag may be repeated; a key given twice
// is refused rather than one silently winning. Commas can split the list
// because no label key or value may hold one.
type labelsFlag struct{ labels *map[string]string }

func (f labelsFlag) String() string {
	if f.labels == nil || len(*f.labels) == 0 {
		return ""
	}
	pairs := make([]string, 0, len(*f.labels))
	for _, k := range slices.Sorted(maps.Keys(*f.labels)) {
		pairs = append(pairs, k+"="+(*f.labels)[k])
	}
	return strings.Join(pairs, ",")
}

// Set parses one --labels value and checks the result with the gateway's
// own rules (protocol.ValidateLabels), so a bad label is refused here,
// before the host's key is written or a registration attempt is spent.
func (f labelsFlag) Set(s string) error {
	if *f.labels == nil {
		*f.labels = map[string]string{}
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue // "a=b," or an empty --labels
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", item)
		}
		if _, dup := (*f.labels)[k]; dup {
			return fmt.Errorf("label %q is given twice", k)
		}
		(*f.labels)[k] = v
	}
	return protocol.ValidateLabels(*f.labels)
}
