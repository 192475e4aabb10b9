package registrytest

import (
	"bytes"
	"crypto/aes"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/value"
	aestransformer "k8s.io/apiserver/pkg/storage/value/encrypt/aes"
)

// AESPrefix is what an EncryptionConfiguration aesgcm provider named "key1" puts in front of
// every value.
const AESPrefix = "k8s:enc:aesgcm:v1:key1:"

// TransformingGetter sets a value transformer on the storage config of every resource, as the
// server's storage factory does for the resources of an EncryptionConfiguration.
type TransformingGetter struct {
	generic.RESTOptionsGetter
	Transformer value.Transformer
}

// GetRESTOptions implements generic.RESTOptionsGetter.
func (g TransformingGetter) GetRESTOptions(gr schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(gr, example)
	if err != nil {
		return opts, err
	}
	cfg := *opts.StorageConfig
	cfg.Transformer = g.Transformer
	opts.StorageConfig = &cfg
	return opts, nil
}

// NewAESGCM returns the transformer of an aesgcm provider named "key1" with a fixed key.
func NewAESGCM(t *testing.T) value.Transformer {
	t.Helper()
	block, err := aes.NewCipher(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := aestransformer.NewGCMTransformer(block)
	if err != nil {
		t.Fatal(err)
	}
	return value.NewPrefixTransformers(errors.New("no matching prefix"),
		value.PrefixTransformer{Prefix: []byte(AESPrefix), Transformer: gcm})
}
