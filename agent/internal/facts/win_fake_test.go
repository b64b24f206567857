package facts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"
)

// recordedWindows plays back a recording of what a Windows host's API
// calls returned (testdata/windows/*.json). The recordings are written
// down by hand from the values real Windows 10, 11 and Server 2022
// installs report; no Windows machine was available to capture them, and
// the real calls (collect_windows.go) have not run in these tests.
//
// Registry values are JSON strings (REG_SZ), numbers (REG_DWORD) and
// arrays of strings (REG_MULTI_SZ); reading one as another type fails as
// the registry package does.
type recordedWindows struct {
	RecordedAt       time.Time                             `json:"recordedAt"`
	HostnameValue    string                                `json:"hostname"`
	HostnameErr      string                                `json:"hostnameError"`
	VersionValue     winVersion                            `json:"version"`
	Registry         map[string]map[string]json.RawMessage `json:"registry"`
	RegistryErrs     map[string]string                     `json:"registryErrors"` // key -> error on open
	LogicalProcs     int                                   `json:"logicalProcessors"`
	TotalMemoryValue uint64                                `json:"totalMemory"`
	SinceBootMs      int64                                 `json:"sinceBootMs"`
	DrivesErr        string                                `json:"drivesError"`
	RecordedDrives   []recordedDrive                       `json:"drives"`
	Recording        string                                `json:"recording"`

	measured []string // roots Volume was called for
}

type recordedDrive struct {
	Root   string    `json:"root"`
	Type   uint32    `json:"type"`
	Volume winVolume `json:"volume"`
	// Error is "not ready" (no medium, RAW, BitLocker-locked) or any
	// other failure's text.
	Error string `json:"error"`
}

func loadRecording(t *testing.T, name string) *recordedWindows {
	t.Helper()
	b, err := os.ReadFile("testdata/windows/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r recordedWindows
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if r.Recording == "" {
		t.Fatalf("%s: a recording must say where its values come from", name)
	}
	return &r
}

var errUnexpectedType = errors.New("unexpected key value type") // registry.ErrUnexpectedType's text

func (r *recordedWindows) value(key, name string) (json.RawMessage, error) {
	if msg, ok := r.RegistryErrs[key]; ok {
		return nil, fmt.Errorf(`open HKLM\%s: %s`, key, msg)
	}
	k, ok := r.Registry[key]
	if !ok {
		return nil, fmt.Errorf(`open HKLM\%s: %w`, key, fs.ErrNotExist)
	}
	v, ok := k[name]
	if !ok {
		return nil, fmt.Errorf(`read HKLM\%s\%s: %w`, key, name, fs.ErrNotExist)
	}
	return v, nil
}

func (r *recordedWindows) RegString(key, name string) (string, error) {
	raw, err := r.value(key, name)
	if err != nil {
		return "", err
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", errUnexpectedType
	}
	return s, nil
}

func (r *recordedWindows) RegInteger(key, name string) (uint64, error) {
	raw, err := r.value(key, name)
	if err != nil {
		return 0, err
	}
	var n uint64
	if json.Unmarshal(raw, &n) != nil {
		return 0, errUnexpectedType
	}
	return n, nil
}

func (r *recordedWindows) RegStrings(key, name string) ([]string, error) {
	raw, err := r.value(key, name)
	if err != nil {
		return nil, err
	}
	var ss []string
	if json.Unmarshal(raw, &ss) != nil {
		return nil, errUnexpectedType
	}
	return ss, nil
}

func (r *recordedWindows) RegValueCount(key string) (int, error) {
	if msg, ok := r.RegistryErrs[key]; ok {
		return 0, fmt.Errorf(`open HKLM\%s: %s`, key, msg)
	}
	k, ok := r.Registry[key]
	if !ok {
		return 0, fmt.Errorf(`open HKLM\%s: %w`, key, fs.ErrNotExist)
	}
	return len(k), nil
}

func (r *recordedWindows) Version() winVersion { return r.VersionValue }

func (r *recordedWindows) Hostname() (string, error) {
	if r.HostnameErr != "" {
		return "", errors.New(r.HostnameErr)
	}
	return r.HostnameValue, nil
}

func (r *recordedWindows) LogicalProcessors() int { return r.LogicalProcs }

func (r *recordedWindows) TotalMemory() (uint64, error) {
	if r.TotalMemoryValue == 0 {
		return 0, errors.New("GlobalMemoryStatusEx: not recorded")
	}
	return r.TotalMemoryValue, nil
}

func (r *recordedWindows) SinceBoot() time.Duration {
	return time.Duration(r.SinceBootMs) * time.Millisecond
}

func (r *recordedWindows) Drives() ([]string, error) {
	if r.DrivesErr != "" {
		return nil, errors.New(r.DrivesErr)
	}
	roots := make([]string, len(r.RecordedDrives))
	for i, d := range r.RecordedDrives {
		roots[i] = d.Root
	}
	return roots, nil
}

func (r *recordedWindows) drive(root string) (recordedDrive, bool) {
	for _, d := range r.RecordedDrives {
		if d.Root == root {
			return d, true
		}
	}
	return recordedDrive{}, false
}

func (r *recordedWindows) DriveType(root string) uint32 {
	d, ok := r.drive(root)
	if !ok {
		return driveNoRootDir
	}
	return d.Type
}

func (r *recordedWindows) Volume(root string) (winVolume, error) {
	r.measured = append(r.measured, root)
	d, ok := r.drive(root)
	switch {
	case !ok:
		return winVolume{}, fmt.Errorf("GetDiskFreeSpaceEx: %w", fs.ErrNotExist)
	case d.Error == "not ready":
		return winVolume{}, fmt.Errorf("%w: GetDiskFreeSpaceEx: The device is not ready.", errDriveNotReady)
	case d.Error != "":
		return winVolume{}, fmt.Errorf("GetDiskFreeSpaceEx: %s", d.Error)
	}
	return d.Volume, nil
}

var _ winAPI = (*recordedWindows)(nil)
