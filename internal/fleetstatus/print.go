package fleetstatus

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Print writes rows as a table in kubectl's style, ages as kubectl prints
// them (9d, 5h), "-" where there is nothing to age, and a TOTAL line when
// there is more than one namespace; with no rows, a sentence.
func Print(w io.Writer, rows []Row, now time.Time) error {
	if len(rows) == 0 {
		// As kubectl says it, rather than a table with no rows.
		if _, err := fmt.Fprintln(w, "No Agents or AgentUpdates found."); err != nil {
			return fmt.Errorf("writing the summary: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tHOSTS\tREADY\tSECURITY\tOLDEST SECURITY\tROLLOUTS\tHALTED")
	line := func(r Row) {
		oldest := "-"
		if r.OldestSecurity != nil {
			oldest = duration.HumanDuration(now.Sub(*r.OldestSecurity))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\n", r.Namespace, r.Hosts, r.Ready, r.Security, oldest, r.InProgress, r.Halted)
	}
	for _, r := range rows {
		line(r)
	}
	if len(rows) > 1 {
		line(Total(rows))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}
