package wua

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// securityUpdatesID is the CategoryID of the "Security Updates"
// classification, the same in every language.
const securityUpdatesID = "0fa1201d-4330-4fa8-8ae9-b877473b6441"

// defaultSource names an update without categories.
const defaultSource = "Windows Update"

// update is one search result as SearchScript prints it.
type update struct {
	Title        string         `json:"Title"`
	KBArticleIDs scan.PSStrings `json:"KBArticleIDs"`
	MsrcSeverity string         `json:"MsrcSeverity"`
	Categories   categories     `json:"Categories"`
	UpdateID     string         `json:"UpdateID"`
}

type category struct {
	Name       string `json:"Name"`
	CategoryID string `json:"CategoryID"`
	Type       string `json:"Type"`
}

// categories accepts a list, a single category, or plain names.
type categories []category

// UnmarshalJSON implements json.Unmarshaler.
func (c *categories) UnmarshalJSON(data []byte) error {
	raws, err := scan.DecodePSArray[json.RawMessage](data)
	if err != nil {
		return err
	}
	out := make(categories, 0, len(raws))
	for _, raw := range raws {
		if string(raw) == "null" {
			continue
		}
		var cat category
		if err := json.Unmarshal(raw, &cat.Name); err != nil {
			if err := json.Unmarshal(raw, &cat); err != nil {
				return fmt.Errorf("category: %w", err)
			}
		}
		out = append(out, cat)
	}
	*c = out
	return nil
}

// Parse reads SearchScript's JSON output and returns one PendingUpdate per
// title. A decoding error is returned wrapped.
func Parse(data []byte) ([]protocol.PendingUpdate, error) {
	updates, err := scan.DecodePSArray[update](data)
	if err != nil {
		return nil, fmt.Errorf("windows update search output: %w", err)
	}
	var list scan.List
	for _, u := range updates {
		list.Add(protocol.PendingUpdate{
			Manager:          protocol.ManagerWindowsUpdate,
			Name:             u.Title,
			AvailableVersion: kbs(u.KBArticleIDs),
			Security:         u.security(),
			Source:           u.classification(),
		})
	}
	return list.Items(), nil
}

// security reports whether u is a security update.
func (u update) security() bool {
	if sev := strings.TrimSpace(u.MsrcSeverity); sev != "" && !strings.EqualFold(sev, "Unspecified") {
		return true
	}
	for _, c := range u.Categories {
		if strings.EqualFold(c.CategoryID, securityUpdatesID) || strings.EqualFold(c.Name, "Security Updates") {
			return true
		}
	}
	return false
}

// classification returns the name of u's UpdateClassification category,
// else its first category's name.
func (u update) classification() string {
	for _, c := range u.Categories {
		if c.Type == "UpdateClassification" && c.Name != "" {
			return c.Name
		}
	}
	for _, c := range u.Categories {
		if c.Name != "" {
			return c.Name
		}
	}
	return defaultSource
}

// kbs renders KB article ids as "KB5037771,KB890830".
func kbs(ids []string) string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if len(id) > 2 && strings.EqualFold(id[:2], "KB") {
			id = id[2:]
		}
		if id != "" {
			out = append(out, "KB"+id)
		}
	}
	return strings.Join(out, ",")
}
