package wua

import (
	"encoding/json"
	"fmt"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// Report is what InstallScript prints.
type Report struct {
	// Found counts the selected updates the search still offered.
	Found          int
	DownloadResult int
	InstallResult  int
	HResult        int64
	RebootRequired bool
	Updates        UpdateResults
}

// UpdateResult is one update's installation result.
type UpdateResult struct {
	Title          string
	KBArticleIDs   scan.PSStrings
	ResultCode     int
	HResult        int64
	RebootRequired bool
}

// UpdateResults accepts every shape ConvertTo-Json gives a list.
type UpdateResults []UpdateResult

// UnmarshalJSON implements json.Unmarshaler.
func (u *UpdateResults) UnmarshalJSON(data []byte) error {
	items, err := scan.DecodePSArray[UpdateResult](data)
	if err != nil {
		return err
	}
	*u = items
	return nil
}

// ParseReport reads InstallScript's output.
func ParseReport(data []byte) (Report, error) {
	items, err := scan.DecodePSArray[json.RawMessage](data)
	if err != nil || len(items) != 1 {
		return Report{}, fmt.Errorf("windows update install output: want one JSON object (%d found): %v", len(items), err)
	}
	var r Report
	if err := json.Unmarshal(items[0], &r); err != nil {
		return Report{}, fmt.Errorf("windows update install output: %w", err)
	}
	return r, nil
}

// succeeded reports whether a result code means installed.
func succeeded(code int) bool { return code == resultSucceeded || code == resultSucceededWithErrors }

// hresult formats an HRESULT as Windows documents it: 0x80240022.
func hresult(h int64) string { return fmt.Sprintf("0x%08X", uint32(h)) }
