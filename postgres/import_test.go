package postgres

import (
	"encoding/json"
	"reflect"
	"testing"
)

// SQLite's values become values of the PostgreSQL column's type.
func TestImportConvert(t *testing.T) {
	for _, c := range []struct {
		v    any
		typ  string
		want any
	}{
		{int64(1), "boolean", true},
		{int64(0), "boolean", false},
		{`{"a":"b"}`, "jsonb", json.RawMessage(`{"a":"b"}`)},
		{[]byte(`["x"]`), "jsonb", json.RawMessage(`["x"]`)},
		{"", "jsonb", nil}, // a queue always open
		{nil, "jsonb", nil},
		{"key", "bytea", []byte("key")},
		{[]byte("text"), "text", "text"},
		{int64(7), "bigint", int64(7)},
		{nil, "bigint", nil},
	} {
		got, err := convert(c.v, c.typ)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("convert(%#v, %s) = %#v, %v; want %#v", c.v, c.typ, got, err, c.want)
		}
	}
	if _, err := convert("{not json", "jsonb"); err == nil {
		t.Error("convert of text that is not JSON into jsonb succeeded")
	}
}
