package keylock

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestSameKeySerializes(t *testing.T) {
	var m Map
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := m.Lock("a")
			n := inside.Add(1)
			if n > maxInside.Load() {
				maxInside.Store(n)
			}
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders of one key at once", maxInside.Load())
	}
}

func TestOtherKeysDoNotWait(t *testing.T) {
	var m Map
	unlockA := m.Lock("a")
	defer unlockA()
	done := make(chan struct{})
	go func() { m.Lock("b")(); close(done) }()
	<-done // would deadlock if keys shared a lock
}
