package airflowsim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/airgate/airgate/internal/airflowsim"
)

// A test starts the double, calls it as Airflow 2 would be called, checks
// the answer against Airflow's specification, and looks at what arrived.
func ExampleNew() {
	sim := airflowsim.New(airflowsim.Options{Username: "svc-airgate", Password: "s3cret"})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/dags/team_a_daily", nil)
	req.SetBasicAuth("svc-airgate", "s3cret")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))

	err = airflowsim.ValidateResponseStrict(airflowsim.APIv1, req, resp.StatusCode, resp.Header, body)
	var dag struct {
		Schedule map[string]any `json:"schedule_interval"`
	}
	_ = json.Unmarshal(body, &dag)
	fmt.Println(resp.StatusCode, err, dag.Schedule["value"])
	fmt.Println(sim.Requests()[0].Identity.User)
	// Output:
	// 200 <nil> 0 * * * *
	// svc-airgate
}
