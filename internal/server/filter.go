package server

import (
	"encoding/json"
	"errors"
)

// errUnfilterable means a request body has a shape airgate cannot narrow
// safely; the caller is then refused rather than Airflow shown everything.
var errUnfilterable = errors.New("list response cannot be filtered by DAG")

// filterBatchBody narrows the dag_ids of a batch list request body (v1
// POST /dags/~/dagRuns/list and the task instance batch) to the permitted
// DAGs. A body without dag_ids gets the permitted set, so that Airflow never
// widens it. It reports the ids removed.
func filterBatchBody(body []byte, permitted []string, permits func(string) bool) ([]byte, []string, error) {
	var obj map[string]json.RawMessage
	if len(body) == 0 {
		obj = map[string]json.RawMessage{}
	} else if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, nil, errUnfilterable
	}
	var ids []string
	var removed []string
	if raw, ok := obj["dag_ids"]; ok && string(raw) != "null" {
		var asked []string
		if err := json.Unmarshal(raw, &asked); err != nil {
			return nil, nil, errUnfilterable
		}
		for _, id := range asked {
			if permits(id) {
				ids = append(ids, id)
			} else {
				removed = append(removed, id)
			}
		}
	} else {
		ids = permitted
	}
	if ids == nil {
		ids = []string{}
	}
	enc, err := json.Marshal(ids)
	if err != nil {
		return nil, nil, err
	}
	obj["dag_ids"] = enc
	out, err := json.Marshal(obj)
	return out, removed, err
}
