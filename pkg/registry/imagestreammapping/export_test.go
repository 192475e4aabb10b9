package imagestreammapping

// Queued returns how many mappings to a stream wait behind the transaction in flight, so
// tests can line up a batch without sleeping.
func Queued(r *REST, namespace, stream string) int {
	r.batches.mu.Lock()
	defer r.batches.mu.Unlock()
	if q, ok := r.batches.queues[namespace+"/"+stream]; ok {
		return len(q.pending)
	}
	return 0
}
