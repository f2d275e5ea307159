package server

import (
	"encoding/json"
	"errors"
)

// errUnfilterable means a list response has a shape airgate cannot narrow
// safely; the caller is then refused rather than shown everything.
var errUnfilterable = errors.New("list response cannot be filtered by DAG")

// filterList narrows a JSON list response to the items whose dag_id permits
// accepts: the response's one array-valued member is filtered and
// total_entries is set to the number kept (items of one page; see
// filterListPages for totals across pages). Items without a dag_id are
// dropped: what cannot be attributed to a permitted DAG is not shown.
func filterList(body []byte, permits func(dagID string) bool) (out []byte, kept, dropped int, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, 0, 0, errUnfilterable
	}
	listKey := ""
	for k, v := range obj {
		if len(v) > 0 && v[0] == '[' {
			if listKey != "" {
				return nil, 0, 0, errUnfilterable
			}
			listKey = k
		}
	}
	if listKey == "" {
		return nil, 0, 0, errUnfilterable
	}
	var items []json.RawMessage
	if err := json.Unmarshal(obj[listKey], &items); err != nil {
		return nil, 0, 0, errUnfilterable
	}
	keep := items[:0]
	for _, it := range items {
		var id struct {
			DAGID *string `json:"dag_id"`
		}
		if json.Unmarshal(it, &id) == nil && id.DAGID != nil && permits(*id.DAGID) {
			keep = append(keep, it)
			continue
		}
		dropped++
	}
	if keep == nil {
		keep = []json.RawMessage{}
	}
	enc, err := json.Marshal(keep)
	if err != nil {
		return nil, 0, 0, err
	}
	obj[listKey] = enc
	if _, ok := obj["total_entries"]; ok {
		obj["total_entries"], _ = json.Marshal(len(keep))
	}
	out, err = json.Marshal(obj)
	return out, len(keep), dropped, err
}

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
