// Package notifications records pushes to a standard registry (CNCF distribution) in the image
// API, from the registry's notification events, as OpenShift's integrated registry records
// them itself: a manifest pushed by tag becomes an ImageStreamMapping (the stream created when
// missing), a manifest pushed by digest an Image. The registry repository <namespace>/<name>
// is the image stream <name> in <namespace>. Each manifest is read back from the registry (its
// event carries only the descriptor) to build the Image with its metadata and layers; a
// manifest list or OCI index is recorded as in an import with PreserveOriginal: its Image
// lists its children, whose Images are created first.
//
// The registry delivers each event until it is answered 2xx or 3xx, forever and in order, so
// the handler answers 2xx once everything the POST asks for is committed, 5xx with
// Retry-After when a later attempt may succeed, and 2xx with a logged warning for an event
// that can never succeed, which must not block the registry's queue. Recording is idempotent:
// an Image that exists is success, and a mapping equal to its tag's newest event adds nothing.
//
// The registry's configuration (the token is the content of the server's
// --registry-notifications-token-file; the default timeout of 1s is too short for reading a
// manifest list back; the registry verifies the server's certificate with its system roots):
//
//	notifications:
//	  endpoints:
//	    - name: image-apiserver
//	      url: https://image-apiserver.example:8443/notifications/distribution
//	      headers:
//	        Authorization: [Bearer <token>]
//	      timeout: 10s
//	      threshold: 5
//	      backoff: 2s
//	      ignore:
//	        mediatypes: [application/octet-stream] # blob uploads and mounts
//	        actions: [pull]
//
// Instead of the token, the endpoint accepts a TLS client certificate signed by a CA of
// --registry-notifications-client-ca-file (and, with --registry-notifications-allowed-names,
// with one of those common names). distribution v3.1.2 has no TLS settings for its endpoints
// and presents none; a TLS-originating proxy or service mesh beside the registry can.
package notifications
