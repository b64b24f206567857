package facts

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// cpuModelKeys are /proc/cpuinfo's names for the processor model, by
// architecture: x86 and most others, 32-bit ARM, MIPS, POWER. arm64
// kernels print none; the model stays empty there rather than guessed.
var cpuModelKeys = []string{"model name", "Processor", "cpu model", "cpu"}

// parseCPUInfo returns the processor model and the number of logical CPUs
// (one "processor" entry each) from /proc/cpuinfo.
func parseCPUInfo(r io.Reader) (model string, count int, err error) {
	found := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "processor" {
			if _, err := strconv.Atoi(value); err == nil {
				count++
			}
			continue
		}
		if _, seen := found[key]; !seen && value != "" {
			found[key] = value
		}
	}
	if err := sc.Err(); err != nil {
		return "", 0, fmt.Errorf("read cpuinfo: %w", err)
	}
	for _, k := range cpuModelKeys {
		if v := found[k]; v != "" {
			return strings.Join(strings.Fields(v), " "), count, nil
		}
	}
	return "", count, nil
}

// parseMemTotal returns MemTotal from /proc/meminfo, in bytes.
func parseMemTotal(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("meminfo: MemTotal line %q is not \"<n> kB\"", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > (1<<53)/1024 {
			return 0, fmt.Errorf("meminfo: MemTotal %q is not a plausible size", f[0])
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	return 0, errors.New("meminfo: no MemTotal line")
}

// parseBootTime returns the btime line of /proc/stat.
func parseBootTime(r io.Reader) (time.Time, error) {
	sc := bufio.NewScanner(r)
	// The per-CPU and interrupt lines of /proc/stat get long on big hosts.
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "btime ")
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		if err != nil || sec <= 0 {
			return time.Time{}, fmt.Errorf("stat: btime %q is not a Unix time", rest)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, fmt.Errorf("read stat: %w", err)
	}
	return time.Time{}, errors.New("stat: no btime line")
}
