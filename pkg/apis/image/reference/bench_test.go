package reference

import "testing"

// BenchmarkParse measures Parse on the pull specs of a push (the registry's
// mapping reference, by digest) and of an import (short and qualified names).
// Parse runs several times per push, so its cost is reported, not asserted.
func BenchmarkParse(b *testing.B) {
	specs := []struct{ name, spec string }{
		{"push", "image-registry.openshift-image-registry.svc:5000/myproject/app@" + digest256},
		{"short", "redis"},
		{"tagged", "quay.io/org/app:v1.2.3"},
	}
	for _, s := range specs {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(s.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
