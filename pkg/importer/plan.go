package importer

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// job is one fetch and the source it was planned from.
type job struct {
	key    fetchKey
	src    source
	result fetched
}

// plan collects the fetches of one import, each once, digests first.
type plan struct {
	jobs  map[fetchKey]*job
	order []*job
}

func (p *plan) add(src source, key fetchKey) *job {
	if j, ok := p.jobs[key]; ok {
		return j
	}
	j := &job{key: key, src: src}
	p.jobs[key] = j
	p.order = append(p.order, j)
	return j
}

// imageEntry is a spec.images entry: its failure, or the job that imports it.
type imageEntry struct {
	status metav1.Status
	src    source
	job    *job
}

// repositoryEntry is spec.repository: its failure, or the jobs of its tags.
type repositoryEntry struct {
	failure    *metav1.Status
	src        source
	mode       imagev1.ImportModeType
	jobs       []*job
	additional []string
}

func ptr[T any](v T) *T { return &v }

// importOnce runs one import of spec with keychain.
func (imp *Importer) importOnce(ctx context.Context, spec *imagev1.ImageStreamImportSpec, stream *imagev1.ImageStream, keychain authn.Keychain) imagev1.ImageStreamImportStatus {
	s := imp.newSession(keychain)
	p := &plan{jobs: map[fetchKey]*job{}}

	images := make([]imageEntry, len(spec.Images))
	for i := range spec.Images {
		images[i] = imp.planImage(p, &spec.Images[i], stream)
	}
	var repo *repositoryEntry
	if spec.Repository != nil {
		repo = imp.planRepository(ctx, s, p, spec.Repository)
	}

	s.run(ctx, p)

	var status imagev1.ImageStreamImportStatus
	if len(spec.Images) > 0 {
		status.Images = make([]imagev1.ImageImportStatus, len(spec.Images))
		for i, e := range images {
			status.Images[i] = e.result()
		}
	}
	if repo != nil {
		status.Repository = repo.result(p)
	}
	return status
}

// importMode is the entry's mode, or the server's default.
func (imp *Importer) importMode(policy imagev1.TagImportPolicy) imagev1.ImportModeType {
	if policy.ImportMode != "" {
		return policy.ImportMode
	}
	return imp.opts.DefaultImportMode
}

// planImage checks a spec.images entry and plans its fetch.
func (imp *Importer) planImage(p *plan, spec *imagev1.ImageImportSpec, stream *imagev1.ImageStream) imageEntry {
	if spec.From.Kind != "DockerImage" {
		return imageEntry{status: kindStatus(spec.From)}
	}
	src, err := parseSource(spec.From.Name, spec.ImportPolicy.Insecure)
	if err != nil {
		return imageEntry{status: invalidStatus(spec.From.Name, err)}
	}
	if !imp.allowed(src) {
		return imageEntry{status: forbiddenStatus(spec.From.Name, src.registry)}
	}
	key := fetchKey{
		repository: src.qualified,
		insecure:   src.insecure,
		tag:        src.typed.Tag,
		digest:     src.typed.ID,
		mode:       imp.importMode(spec.ImportPolicy),
	}
	if key.digest != "" {
		// A digest names one manifest: the tag is only a hint for people.
		key.tag = ""
	} else {
		// The target tag's annotations choose the platform of a manifest list.
		to := key.tag
		if spec.To != nil && spec.To.Name != "" {
			to = spec.To.Name
		}
		if stream != nil {
			for _, t := range stream.Spec.Tags {
				if t.Name == to {
					key.preferArch = t.Annotations[imagev1.ImporterPreferArchAnnotation]
					key.preferOS = t.Annotations[imagev1.ImporterPreferOSAnnotation]
				}
			}
		}
	}
	return imageEntry{src: src, job: p.add(src, key)}
}

// result is the entry's status once its job has run.
func (e imageEntry) result() imagev1.ImageImportStatus {
	if e.job == nil {
		return imagev1.ImageImportStatus{Status: e.status}
	}
	return e.src.importStatus(e.job)
}

// importStatus is what an entry of src reports for a job: the images get the entry's own
// spelling of the repository in their dockerImageReference.
func (src source) importStatus(j *job) imagev1.ImageImportStatus {
	out := imagev1.ImageImportStatus{Tag: j.key.tag}
	r := j.result
	if r.image == nil {
		out.Status = r.status
		return out
	}
	out.Status = successStatus()
	out.Image = r.image.DeepCopy()
	out.Image.DockerImageReference = src.imageReference(out.Image.Name)
	for _, m := range r.manifests {
		child := m.DeepCopy()
		child.DockerImageReference = src.imageReference(child.Name)
		out.Manifests = append(out.Manifests, *child)
	}
	return out
}

// run fetches the planned jobs, at most Parallelism at a time, in plan order.
func (s *session) run(ctx context.Context, p *plan) {
	sem := make(chan struct{}, s.imp.opts.Parallelism)
	var wg sync.WaitGroup
	for _, j := range p.order {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			j.result = s.fetch(ctx, j.src, j.key)
		}()
	}
	wg.Wait()
}

// planRepository lists the tags of spec.repository and plans the fetch of the first ones.
func (imp *Importer) planRepository(ctx context.Context, s *session, p *plan, spec *imagev1.RepositoryImportSpec) *repositoryEntry {
	if spec.From.Kind != "DockerImage" {
		return &repositoryEntry{failure: ptr(kindStatus(spec.From))}
	}
	src, err := parseSource(spec.From.Name, spec.ImportPolicy.Insecure)
	if err != nil {
		return &repositoryEntry{failure: ptr(invalidStatus(spec.From.Name, err))}
	}
	if !imp.allowed(src) {
		return &repositoryEntry{failure: ptr(forbiddenStatus(spec.From.Name, src.registry))}
	}
	tags, err := s.puller(src.insecure).List(ctx, src.repo)
	if err != nil {
		f := failure{ref: src.qualified, repository: src.typed.RepositoryName(), insecure: src.insecure, credentials: s.hasCredentials(src.repo)}
		return &repositoryEntry{failure: ptr(f.errorStatus(err))}
	}
	tags = prioritizeTags(tags)
	e := &repositoryEntry{src: src, mode: imp.importMode(spec.ImportPolicy)}
	limit := imp.opts.MaxTagsPerRepository
	for i, tag := range tags {
		if limit >= 0 && i >= limit {
			e.additional = append(e.additional, tag)
			continue
		}
		key := fetchKey{repository: src.qualified, insecure: src.insecure, tag: tag, mode: e.mode}
		e.jobs = append(e.jobs, p.add(src, key))
	}
	return e
}

// result is the repository status once its jobs have run. Tags beyond the limit that
// spec.images imported anyway are reported as imported, as OpenShift does.
func (e *repositoryEntry) result(p *plan) *imagev1.RepositoryImportStatus {
	if e.failure != nil {
		return &imagev1.RepositoryImportStatus{Status: *e.failure}
	}
	out := &imagev1.RepositoryImportStatus{}
	jobs := e.jobs
	for _, tag := range e.additional {
		key := fetchKey{repository: e.src.qualified, insecure: e.src.insecure, tag: tag, mode: e.mode}
		if j, ok := p.jobs[key]; ok && j.result.image != nil {
			jobs = append(jobs, j)
			continue
		}
		out.AdditionalTags = append(out.AdditionalTags, tag)
	}
	failures := 0
	for _, j := range jobs {
		st := e.src.importStatus(j)
		if st.Image == nil {
			failures++
		}
		out.Images = append(out.Images, st)
	}
	out.Status = successStatus()
	if failures > 0 {
		msg := "one of the images from this repository failed to import"
		if failures > 1 {
			msg = fmt.Sprintf("%d of the images from this repository failed to import", failures)
		}
		out.Status = withDetails(metav1.Status{Status: metav1.StatusFailure, Reason: "ImportFailed", Message: msg}, e.src.qualified)
	}
	return out
}
