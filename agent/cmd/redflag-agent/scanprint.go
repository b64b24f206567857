package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scanrun"
	"github.com/redflag-io/redflag/internal/protocol"
)

// errWriter keeps the first write error, so the printers below need not
// check every line; printReport returns it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// printReport writes report for a person: one block per subsystem, then a
// summary line.
func printReport(w io.Writer, report scanrun.Report) error {
	ew := &errWriter{w: w}
	counts := map[protocol.RunResult]int{}
	var inv *protocol.UpdateInventory
	for _, res := range report.Results {
		counts[res.Status.Result]++
		fmt.Fprintf(ew, "%s: %s\n", res.Subsystem, res.Status.Result)
		if res.Subsystem == scanrun.Updates {
			inv = res.Updates
		}
		switch {
		case res.Updates != nil:
			printUpdates(ew, res)
		case res.Subsystem == scanrun.Storage:
			printStorage(ew, res.Storage)
		case res.Subsystem == scanrun.System:
			printSystem(ew, res)
		case res.Docker != nil:
			printDocker(ew, res.Docker)
		}
		if res.Status.Message != "" {
			fmt.Fprintf(ew, "  note: %s\n", res.Status.Message)
		}
		fmt.Fprintln(ew)
	}
	fmt.Fprintln(ew, summary(report, inv, counts))
	return ew.err
}

func printUpdates(w io.Writer, res scanrun.Result) {
	var sources []string
	for _, o := range res.Outcomes {
		switch {
		case !o.Present:
			sources = append(sources, o.Name+" not installed")
		default:
			sources = append(sources, fmt.Sprintf("%s %s (%d)", o.Name, o.Result, o.Updates))
		}
	}
	if len(sources) > 0 {
		fmt.Fprintf(w, "  managers: %s\n", strings.Join(sources, ", "))
	}
	if !anyPresent(res.Outcomes) {
		return // the note says nothing was there to scan
	}
	inv := res.Updates
	if len(inv.Items) == 0 {
		fmt.Fprintln(w, "  no pending updates")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MANAGER\tNAME\tCURRENT → AVAILABLE\tSECURITY")
	for _, u := range inv.Items {
		sec := ""
		if u.Security {
			sec = "security"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s → %s\t%s\n", u.Manager, u.Name, orDash(u.CurrentVersion), orDash(u.AvailableVersion), sec)
	}
	_ = tw.Flush() // errors surface through the errWriter
	if inv.Truncated {
		fmt.Fprintf(w, "  (%d more not listed)\n", int(inv.Total)-len(inv.Items))
	}
}

func anyPresent(outs []scanrun.Outcome) bool {
	return slices.ContainsFunc(outs, func(o scanrun.Outcome) bool { return o.Present })
}

func printStorage(w io.Writer, mounts []protocol.MountStatus) {
	if len(mounts) == 0 {
		fmt.Fprintln(w, "  no filesystems found")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MOUNT\tDEVICE\tTYPE\tSIZE\tUSED")
	for _, m := range mounts {
		pct := 0.0
		if m.SizeBytes > 0 {
			pct = 100 * float64(m.UsedBytes) / float64(m.SizeBytes)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s (%.0f%%)\n", m.MountPoint, orDash(m.Device), orDash(m.FSType),
			bytesIEC(m.SizeBytes), bytesIEC(m.UsedBytes), pct)
	}
	_ = tw.Flush()
}

// printDocker prints the engine's containers and images as `docker ps -a`
// and `docker images` would, with each running container's update state.
func printDocker(w io.Writer, inv *protocol.DockerInventory) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  containers: %d\n", inv.TotalContainers)
	if len(inv.Containers) > 0 {
		fmt.Fprintln(tw, "  NAME\tIMAGE\tSTATE\tHEALTH\tRESTARTS\tUPDATE")
	}
	for _, c := range inv.Containers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", c.Name, orDash(c.Image), c.State, orDash(c.Health), c.Restarts, orDash(string(c.Update)))
	}
	fmt.Fprintf(tw, "  images: %d\n", inv.TotalImages)
	if len(inv.Images) > 0 {
		fmt.Fprintln(tw, "  REPOSITORY\tTAG\tID\tSIZE")
	}
	for _, im := range inv.Images {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", orDash(im.Repository), orDash(im.Tag), shortID(im.ID), bytesIEC(im.Size))
	}
	if inv.Truncated {
		fmt.Fprintln(tw, "  (lists cut to their bounds)")
	}
	_ = tw.Flush()
}

// shortID is an image ID as the docker CLI prints it: 12 hex digits.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(len(id), 12)]
}

func printSystem(w io.Writer, res scanrun.Result) {
	if res.OS == nil || res.System == nil {
		return
	}
	osi, sys := res.OS, res.System
	name := cmp.Or(osi.PrettyName, strings.TrimSpace(osi.Distribution+" "+osi.Version), osi.Family)
	fmt.Fprintf(w, "  host:    %s\n", orDash(res.Hostname))
	fmt.Fprintf(w, "  os:      %s, kernel %s, %s\n", orDash(name), orDash(osi.Kernel), orDash(osi.Arch))
	fmt.Fprintf(w, "  cpu:     %d × %s\n", sys.CPUCores, orDash(sys.CPUModel))
	fmt.Fprintf(w, "  memory:  %s\n", bytesIEC(sys.MemoryBytes))
	if sys.BootTime != nil {
		fmt.Fprintf(w, "  booted:  %s\n", sys.BootTime.UTC().Format(time.RFC3339))
	}
	reboot := "no"
	if sys.RebootRequired {
		reboot = "yes"
		if sys.RebootReason != "" {
			reboot += " (" + sys.RebootReason + ")"
		}
	}
	fmt.Fprintf(w, "  reboot required: %s\n", reboot)
}

// summary is the last line: the pending updates, then how the
// subsystems went.
func summary(report scanrun.Report, inv *protocol.UpdateInventory, counts map[protocol.RunResult]int) string {
	var parts []string
	if inv != nil {
		s := fmt.Sprintf("%d pending update(s), %d security", inv.Total, inv.Security)
		if len(inv.ByManager) > 0 {
			var by []string
			for _, m := range slices.Sorted(maps.Keys(inv.ByManager)) {
				by = append(by, fmt.Sprintf("%s %d", m, inv.ByManager[m]))
			}
			s += " (" + strings.Join(by, ", ") + ")"
		}
		parts = append(parts, s)
	}
	var runs []string
	for _, r := range []protocol.RunResult{protocol.RunSucceeded, protocol.RunFailed, protocol.RunTimedOut, protocol.RunSkipped} {
		if counts[r] > 0 {
			runs = append(runs, fmt.Sprintf("%d %s", counts[r], strings.ToLower(string(r))))
		}
	}
	parts = append(parts, fmt.Sprintf("%d subsystem(s): %s", len(report.Results), strings.Join(runs, ", ")))
	return "summary: " + strings.Join(parts, "; ")
}
