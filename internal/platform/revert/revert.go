// Package revert is a rollback stack for multi-step changes (OS objects,
// processes, rows): register an undo after each step succeeds, call Success
// at the end; anything not committed is undone in reverse order by Fail.
//
//	r := revert.New()
//	defer r.Fail()
//	createBridge(); r.Add(deleteBridge)
//	createNetns();  r.Add(deleteNetns)
//	r.Success()
package revert

// Reverter collects undo functions.
type Reverter struct {
	fns []func()
}

// New returns an empty Reverter.
func New() *Reverter { return &Reverter{} }

// Add registers an undo function.
func (r *Reverter) Add(f func()) { r.fns = append(r.fns, f) }

// Fail runs the undo functions in reverse order unless Success was called.
func (r *Reverter) Fail() {
	for i := len(r.fns) - 1; i >= 0; i-- {
		r.fns[i]()
	}
	r.fns = nil
}

// Success drops the undo functions: the change is kept.
func (r *Reverter) Success() { r.fns = nil }

// Clone hands the pending undo functions to a new Reverter and empties this
// one, for a caller that wants to undo later (for example on delete).
func (r *Reverter) Clone() *Reverter {
	n := &Reverter{fns: r.fns}
	r.fns = nil
	return n
}
