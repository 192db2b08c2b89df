package httpapi_test

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkSignUpAndLogin measures whole flows through HTTP on a real
// SQLite file: register, verify, login, login verify. One op is one flow.
func BenchmarkSignUpAndLogin(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			phone := fmt.Sprintf("+1415%07d", seq.Add(1))
			h.signIn(phone)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
