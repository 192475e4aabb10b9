package reference

import "testing"

// BenchmarkParse measures parsing the pull specs of a push (the registry's
// mapping reference, by digest) and of an import (short and qualified names):
// the grammar itself ("parse"), and Parse when the spec was parsed a moment ago
// ("remembered"), as it was for most of the parses of one push. Parse runs
// several times per push, so its cost is reported, not asserted.
func BenchmarkParse(b *testing.B) {
	specs := []struct{ name, spec string }{
		{"push", "image-registry.openshift-image-registry.svc:5000/myproject/app@" + digest256},
		{"short", "redis"},
		{"tagged", "quay.io/org/app:v1.2.3"},
	}
	for _, s := range specs {
		b.Run("parse/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parse(s.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("remembered/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(s.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
