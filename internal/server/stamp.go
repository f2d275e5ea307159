package server

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// stampNote returns the trigger body with airgate's attribution appended to
// the DAG run's note, keeping the caller's own note. A body that is not a
// JSON object is returned unchanged (Airflow rejects it itself).
func stampNote(body []byte, who, requestID string) ([]byte, bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		trimmed = []byte("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil || obj == nil {
		return body, false
	}
	stamp := fmt.Sprintf("Triggered by %s through airgate (request %s)", who, requestID)
	note := stamp
	if raw, ok := obj["note"]; ok && string(raw) != "null" {
		var own string
		if err := json.Unmarshal(raw, &own); err != nil {
			return body, false
		}
		if own != "" {
			note = own + "\n\n— " + stamp
		}
	}
	enc, err := json.Marshal(note)
	if err != nil {
		return body, false
	}
	obj["note"] = enc
	out, err := json.Marshal(obj)
	if err != nil {
		return body, false
	}
	return out, true
}

// dagRunID extracts dag_run_id from a DAG run response body.
func dagRunID(body []byte) string {
	var v struct {
		DAGRunID string `json:"dag_run_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.DAGRunID
}
