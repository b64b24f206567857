package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// DecodePSArray decodes what PowerShell's ConvertTo-Json makes of a list:
// nothing at all (an empty pipeline), null, a JSON array, a bare object or
// value (a pipeline of exactly one item), or Windows PowerShell 5.1's
// {"value": [...], "Count": n} wrapping of an array that carries extended
// properties. A leading byte-order mark is ignored.
func DecodePSArray[T any](data []byte) ([]T, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\uFEFF")))
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	switch data[0] {
	case '[':
		var out []T
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, fmt.Errorf("decoding PowerShell JSON array: %w", err)
		}
		return out, nil
	case '{':
		var wrapped struct {
			Value json.RawMessage `json:"value"`
			Count *int            `json:"Count"`
		}
		if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Count != nil && len(wrapped.Value) > 0 {
			return DecodePSArray[T](wrapped.Value)
		}
	}
	var one T
	if err := json.Unmarshal(data, &one); err != nil {
		return nil, fmt.Errorf("decoding PowerShell JSON value: %w", err)
	}
	return []T{one}, nil
}

// PSStrings is a list of strings as ConvertTo-Json renders one: an array,
// a single string or number, null, or the {"value": [...]} wrapper.
// Numbers are kept as their decimal text.
type PSStrings []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *PSStrings) UnmarshalJSON(data []byte) error {
	items, err := DecodePSArray[psString](data)
	if err != nil {
		return err
	}
	out := make(PSStrings, 0, len(items))
	for _, it := range items {
		if it != "" {
			out = append(out, string(it))
		}
	}
	*s = out
	return nil
}

// psString is a JSON string, number, boolean or null read as text.
type psString string

func (p *psString) UnmarshalJSON(data []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*p = ""
	case string:
		*p = psString(v)
	case json.Number:
		*p = psString(v.String())
	case bool:
		*p = psString(strconv.FormatBool(v))
	default:
		return fmt.Errorf("want a string, got %s", bytes.TrimSpace(data))
	}
	return nil
}
