package master

import (
	"reflect"
	"testing"
)

func TestDecodeValue(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"empty", "", nil},
		{"string", `"web1"`, "web1"},
		{"whole number stays an int", `0`, 0},
		{"fraction", `1.5`, 1.5},
		{"float written with a point", `2.0`, 2.0},
		{"nested", `{"retcode":1,"list":[3,"x",{"f":0.25}]}`,
			map[string]any{"retcode": 1, "list": []any{3, "x", map[string]any{"f": 0.25}}}},
		{"beyond int64", `18446744073709551616`, 18446744073709551616.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeValue([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("decodeValue(%s) = %#v, want %#v", c.in, got, c.want)
			}
		})
	}
	if _, err := decodeValue([]byte(`{"x":`)); err == nil {
		t.Error("a truncated answer decoded")
	}
}
