package module

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGroup: Stop cancels the work's context and waits for it to return;
// work started after Stop is refused; a Stop whose context ends first
// reports it.
func TestGroup(t *testing.T) {
	g := NewGroup()
	returned := make(chan struct{})
	if !g.Go(func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		close(returned)
	}) {
		t.Fatal("Go refused work on a running group")
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the work did")
	}
	if g.Go(func(context.Context) { t.Error("work ran after Stop") }) {
		t.Error("Go accepted work after Stop")
	}

	g = NewGroup()
	release := make(chan struct{})
	defer close(release)
	g.Go(func(context.Context) { <-release })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := g.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with stuck work = %v, want the context's deadline", err)
	}
}
