// Package notifications records pushes to a standard registry (CNCF distribution) in the image
// API, from the registry's notification events, as OpenShift's integrated registry records
// them itself: a manifest pushed by tag becomes an ImageStreamMapping (the stream created when
// missing), a manifest pushed by digest an Image.
//
// The registry delivers each event until it is answered 2xx or 3xx, forever and in order, so
// the handler answers 2xx once everything the POST asks for is committed, 5xx with
// Retry-After when a later attempt may succeed, and 2xx with a logged warning for an event
// that can never succeed, which must not block the registry's queue. Recording is idempotent:
// an Image that exists is success, and a mapping equal to its tag's newest event adds nothing.
package notifications
