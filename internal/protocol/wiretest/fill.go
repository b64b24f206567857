// Package wiretest fills protocol and API values for the tests that prove
// the protocol's wire types and the API types agree (internal/protocol's
// compat test, internal/gateway's wireconv test). It is for tests only.
package wiretest

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// Instant is the time Fill sets: with nanoseconds and a zone, so a test
// sees what an encoding keeps of it (the API types' metav1.Time keeps
// whole seconds in UTC).
var Instant = time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.FixedZone("CET", 3600))

// Fill sets every exported field reachable from ptr to a value derived from
// its name: strings "v-<Name>", integers by the name's length, booleans
// true, times Instant; every pointer allocated, two entries in every slice
// and map. Fields named in skip stay zero. With zero set, the leaves stay
// zero instead (pointers, slices and maps are still made, one entry each),
// which shows what an encoding omits.
func Fill(tb testing.TB, ptr any, zero bool, skip ...string) {
	tb.Helper()
	s := map[string]bool{}
	for _, n := range skip {
		s[n] = true
	}
	f := filler{tb: tb, zero: zero, skip: s}
	f.fill(reflect.ValueOf(ptr).Elem(), "")
}

type filler struct {
	tb   testing.TB
	zero bool
	skip map[string]bool
}

var timeType = reflect.TypeFor[time.Time]()

func (f filler) fill(v reflect.Value, name string) {
	switch {
	case v.Type() == timeType:
		f.leaf(v, reflect.ValueOf(Instant))
		return
	case v.Kind() == reflect.Struct && v.NumField() == 1 && v.Type().Field(0).Anonymous && v.Field(0).Type() == timeType:
		f.leaf(v.Field(0), reflect.ValueOf(Instant)) // metav1.Time, protocol.Time
		return
	}
	n := 2
	if f.zero {
		n = 1
	}
	switch v.Kind() {
	case reflect.String:
		f.leaf(v, reflect.ValueOf("v-"+name).Convert(v.Type()))
	case reflect.Bool:
		f.leaf(v, reflect.ValueOf(true))
	case reflect.Int, reflect.Int32, reflect.Int64:
		f.leaf(v, reflect.ValueOf(int64(len(name))*1000003).Convert(v.Type()))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), name)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i), fmt.Sprintf("%s%d", name, i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range n {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k, fmt.Sprintf("%sKey%d", name, i))
			f.fill(e, fmt.Sprintf("%sValue%d", name, i))
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if fd := v.Type().Field(i); fd.IsExported() && !f.skip[fd.Name] {
				f.fill(v.Field(i), fd.Name)
			}
		}
	default:
		f.tb.Fatalf("wiretest: no filler for %s (field %s)", v.Type(), name)
	}
}

// leaf sets v to x, unless the filler leaves leaves zero.
func (f filler) leaf(v, x reflect.Value) {
	if !f.zero {
		v.Set(x)
	}
}
