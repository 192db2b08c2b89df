package phoneauth

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestUndoRunsStepsAddedAfterTheDeferLastFirstOnlyOnFailure(t *testing.T) {
	t.Parallel()
	errStep := errors.New("step failed")
	for _, tc := range []struct {
		name    string
		fail    error
		wantRan []string
	}{
		{"success runs nothing", nil, nil},
		{"failure runs every step, last first", errors.New("flow failed"), []string{"second", "first"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ran []string
			flow := func(ctx context.Context) (err error) {
				var u undo
				defer u.run(ctx, &err)
				u.add("first", func(context.Context) error { ran = append(ran, "first"); return errStep })
				u.add("second", func(ctx context.Context) error {
					if ctx.Err() != nil {
						t.Error("undo step got a cancelled context")
					}
					ran = append(ran, "second")
					return nil
				})
				return tc.fail
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // the client went away: the steps must still run
			err := flow(ctx)
			if !slices.Equal(ran, tc.wantRan) {
				t.Errorf("ran %v, want %v", ran, tc.wantRan)
			}
			if tc.fail == nil && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if tc.fail != nil && (!errors.Is(err, tc.fail) || !errors.Is(err, errStep)) {
				t.Errorf("err = %v, want it to wrap the flow's error and the failed step's", err)
			}
		})
	}
}
