package revert

import (
	"reflect"
	"testing"
)

func TestFailUndoesInReverse(t *testing.T) {
	var got []int
	r := New()
	r.Add(func() { got = append(got, 1) })
	r.Add(func() { got = append(got, 2) })
	r.Fail()
	r.Fail() // a second Fail does nothing
	if !reflect.DeepEqual(got, []int{2, 1}) {
		t.Fatalf("undo order %v", got)
	}
}

func TestSuccessKeeps(t *testing.T) {
	undone := false
	func() {
		r := New()
		defer r.Fail()
		r.Add(func() { undone = true })
		r.Success()
	}()
	if undone {
		t.Fatal("undo ran after Success")
	}
}
