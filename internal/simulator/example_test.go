package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/genwatch/genwatch/internal/simulator"
)

func Example() {
	sim := simulator.New(simulator.Config{Keys: map[string]string{simulator.Hooked: "secret"}})
	sim.Create(simulator.Hooked, "vid_abc123", simulator.Plan{}) // completed at once
	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/video/vid_abc123", nil)
	req.Header.Set("x-api-key", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()

	var body struct {
		Data struct {
			Status   string `json:"status"`
			Progress int    `json:"progress"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, body.Data.Status, body.Data.Progress, sim.Requests(simulator.Hooked, "vid_abc123"))
	// Output: 200 COMPLETED 100 1
}
