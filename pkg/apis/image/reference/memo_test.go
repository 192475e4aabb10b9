package reference

import (
	"fmt"
	"testing"
)

// TestMemoGivesParsesAnswers: remembered answers, good and bad, are those of a fresh parse,
// and the memo stays within its bound.
func TestMemoGivesParsesAnswers(t *testing.T) {
	specs := []string{
		"registry.test:5000/ns/app@sha256:" + fmt.Sprintf("%064d", 1),
		"redis",
		"quay.io/org/app:v1",
		"Not/Valid",
		"",
		"quay.io",
	}
	for round := range 2 {
		for _, spec := range specs {
			got, gotErr := Parse(spec)
			want, wantErr := parse(spec)
			if got != want || gotErr != wantErr {
				t.Errorf("round %d, %q: Parse = %+v, %v; parse = %+v, %v", round, spec, got, gotErr, want, wantErr)
			}
		}
	}
	for i := range 3 * memo.max {
		_, _ = Parse(fmt.Sprintf("quay.io/org/app:v%d", i))
	}
	memo.mu.Lock()
	n := len(memo.results)
	memo.mu.Unlock()
	if n > memo.max {
		t.Errorf("memo holds %d results, bound %d", n, memo.max)
	}
}
