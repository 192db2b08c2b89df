package phoneauth

import (
	"context"
	"errors"
	"fmt"
)

// undo collects the steps that take back what a flow has done so far, so
// that a flow failing at any point leaves nothing behind. A flow declares
// one, adds a step after each effect, and defers run.
type undo []undoStep

type undoStep struct {
	what string
	fn   func(context.Context) error
}

// add records fn as the way to take back the last step, named what in
// errors.
func (u *undo) add(what string, fn func(context.Context) error) {
	*u = append(*u, undoStep{what, fn})
}

// run, if *err is not nil, runs the steps last first and joins their
// failures to *err. The steps run even when ctx was cancelled: a client
// that went away must not leave a half-done flow behind.
//
// The receiver is a pointer so that a deferred run sees the steps added
// after the defer statement.
func (u *undo) run(ctx context.Context, err *error) {
	if *err == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	steps := *u
	for i := len(steps) - 1; i >= 0; i-- {
		if uerr := steps[i].fn(ctx); uerr != nil {
			*err = errors.Join(*err, fmt.Errorf("undo %s: %w", steps[i].what, uerr))
		}
	}
}
