package registry

import (
	"reflect"
	"testing"
)

func TestMap(t *testing.T) {
	var r Map[int]
	if !r.Add("b", 2) || !r.Add("a", 1) {
		t.Fatal("Add refused a new name")
	}
	if r.Add("a", 3) {
		t.Error("Add accepted a taken name")
	}
	if v, ok := r.Get("a"); !ok || v != 1 {
		t.Errorf("Get(a) = %v, %v", v, ok)
	}
	if _, ok := r.Get("c"); ok {
		t.Error("Get found a name never added")
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names = %v", got)
	}
}
