package catalog

import "strings"

// sampleValues are realistic path parameter values used by SamplePath.
var sampleValues = map[string]string{
	"dag_id":     "example_dag",
	"dag_run_id": "manual__2024-01-01T00:00:00+00:00",
	"task_id":    "extract",
	"xcom_key":   "return_value",
	"pool_name":  "default_pool",
	"uri":        "s3://bucket/key",
}

// SamplePath returns a request path for op with realistic parameter values,
// percent-encoded as a client sends it. It is for examples and tests.
func SamplePath(op *Operation) string {
	segs := strings.Split(op.Path, "/")
	pi := 0
	for i, s := range segs {
		name, ok := paramName(s)
		if !ok {
			continue
		}
		p := op.params[pi]
		pi++
		v, ok := sampleValues[name]
		switch {
		case p.constant != "":
			v = p.constant
		case p.integer:
			v = "1"
		case !ok:
			v = "example_" + name
		}
		if !p.rest {
			v = strings.ReplaceAll(v, "/", "%2F")
		}
		segs[i] = strings.ReplaceAll(v, ":", "%3A")
	}
	return strings.Join(segs, "/")
}
