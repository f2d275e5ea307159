package cli

import (
	"encoding/json"

	"github.com/airgate/airgate/internal/secrets"
)

// writeJSONFile writes v as JSON to path atomically (temporary file, fsync,
// rename), mode 0600, so a reader never sees half a file: the secrets file
// store's writer does exactly that.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return secrets.FileStore{Path: path}.Save(append(b, '\n'))
}
