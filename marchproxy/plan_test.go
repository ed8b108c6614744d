package marchproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rookery/rookery/marchproxy/marchproxytest"
)

func remoteOf(id int, s Service, cluster int, active bool) RemoteService {
	return RemoteService{
		ID: id, Name: s.Name, IPFQDN: s.IPFQDN, Port: s.Port, Protocol: s.Protocol,
		Collection: nullIfEmpty(s.Collection), ClusterID: cluster, AuthType: s.AuthType,
		TLSEnabled: s.TLSEnabled, HealthCheckEnabled: s.HealthCheckEnabled,
		HealthCheckPath: nullIfEmpty(s.HealthCheckPath), HealthCheckInterval: s.HealthCheckInterval,
		IsActive: active,
	}
}

func TestPlanTable(t *testing.T) {
	api := validService("api")
	web := validService("webui")
	web.AuthType, web.HealthCheckPath = "none", "/"
	grpc := validService("grpc-health")
	grpc.Protocol = "grpc"
	movedAPI := api
	movedAPI.Port = 9090

	tests := []struct {
		name    string
		desired []Service
		actual  []RemoteService
		opts    PlanOptions
		want    []string // Step.String() of every step
		warn    string
	}{
		{name: "empty cluster creates all", desired: []Service{web, api},
			want: []string{"+ create myapp-api (http backend:8080)", "+ create myapp-webui (http backend:8080)"}},
		{name: "in sync plans nothing", desired: []Service{api}, actual: []RemoteService{remoteOf(7, api, 1, true)}},
		{name: "null collection equals empty", desired: []Service{func() Service { s := api; s.Collection = ""; return s }()}, actual: []RemoteService{remoteOf(7, func() Service { s := api; s.Collection = ""; return s }(), 1, true)}},
		{name: "port change", desired: []Service{movedAPI}, actual: []RemoteService{remoteOf(7, api, 1, true)},
			want: []string{"~ update myapp-api (id 7): port 8080 -> 9090"}},
		{name: "health checks off on the server", desired: []Service{api}, actual: []RemoteService{func() RemoteService {
			r := remoteOf(7, api, 1, true)
			r.HealthCheckEnabled = false
			r.HealthCheckPath = nil
			return r
		}()},
			want: []string{`~ update myapp-api (id 7): health_check_enabled false -> true, health_check_path "" -> "/healthz"`}},
		{name: "soft-deleted is reactivated", desired: []Service{api}, actual: []RemoteService{remoteOf(7, api, 1, false)},
			want: []string{"^ reactivate myapp-api (id 7): is_active false -> true"}},
		{name: "other cluster is ignored", desired: []Service{api}, actual: []RemoteService{remoteOf(7, api, 2, true)},
			want: []string{"+ create myapp-api (http backend:8080)"}},
		{name: "extra service kept without prune", desired: []Service{api}, actual: []RemoteService{remoteOf(7, api, 1, true), remoteOf(8, web, 1, true)}},
		{name: "extra service deleted with prune", desired: []Service{api}, opts: PlanOptions{ClusterID: 1, Prune: true, AppName: "myapp"},
			actual: []RemoteService{remoteOf(7, api, 1, true), remoteOf(8, web, 1, true)},
			want:   []string{"- delete myapp-webui (id 8, soft delete)"}},
		{name: "prune leaves other apps and soft-deleted alone", desired: nil, opts: PlanOptions{ClusterID: 1, Prune: true, AppName: "myapp"},
			actual: []RemoteService{remoteOf(8, Service{Name: "other-api"}, 1, true), remoteOf(9, web, 1, false)}},
		{name: "grpc becomes tcp with a warning", desired: []Service{grpc},
			want: []string{"+ create myapp-grpc-health (tcp backend:8080)"}, warn: "protocol grpc is unknown to the MarchProxy server; sent as tcp"},
		{name: "grpc already tcp is in sync", desired: []Service{grpc}, actual: []RemoteService{remoteOf(3, func() Service { s := grpc; s.Protocol = "tcp"; return s }(), 1, true)},
			warn: "sent as tcp"},
		{name: "duplicate desired", desired: []Service{api, movedAPI}, want: []string{"+ create myapp-api (http backend:8080)"}, warn: "defined more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.ClusterID == 0 {
				tt.opts.ClusterID = 1
			}
			p := Plan(tt.desired, tt.actual, tt.opts)
			var got []string
			for _, s := range p.Steps {
				got = append(got, s.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if p.InSync() != (len(tt.want) == 0) {
				t.Errorf("InSync = %v", p.InSync())
			}
			if tt.warn != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tt.warn) {
				t.Errorf("warnings %v lack %q", p.Warnings, tt.warn)
			}
			if tt.warn == "" && len(p.Warnings) != 0 {
				t.Errorf("unexpected warnings %v", p.Warnings)
			}
		})
	}
}

func TestPlanPatchHoldsOnlyChangedFields(t *testing.T) {
	api := validService("api")
	moved := api
	moved.Port = 9090
	p := Plan([]Service{moved}, []RemoteService{remoteOf(7, api, 1, true)}, PlanOptions{ClusterID: 1})
	b, _ := json.Marshal(p.Steps[0].Patch)
	if string(b) != `{"port":9090}` {
		t.Fatalf("patch = %s", b)
	}
	// Clearing a collection sends null.
	cleared := api
	cleared.Collection = ""
	p = Plan([]Service{cleared}, []RemoteService{remoteOf(7, api, 1, true)}, PlanOptions{ClusterID: 1})
	b, _ = json.Marshal(p.Steps[0].Patch)
	if string(b) != `{"collection":null}` {
		t.Fatalf("patch = %s", b)
	}
}

func TestPlanCreateSendsHealthFieldsAndCluster(t *testing.T) {
	s := validService("api")
	s.HealthCheckEnabled = false
	p := Plan([]Service{s}, nil, PlanOptions{ClusterID: 4})
	b, _ := json.Marshal(p.Steps[0].Create)
	for _, w := range []string{`"cluster_id":4`, `"health_check_enabled":false`, `"health_check_path":"/healthz"`, `"health_check_interval":30`, `"protocol":"http"`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("create body %s lacks %s", b, w)
		}
	}
}

func TestPlanReportsMappings(t *testing.T) {
	p := Plan(nil, nil, PlanOptions{ClusterID: 1, Mappings: []Mapping{validMapping()}})
	if len(p.NotImportable) != 1 || p.NotImportable[0].Name != "myapp-external-api" || p.NotImportable[0].Reason != ReasonNoMappingsAPI {
		t.Fatalf("not importable = %+v", p.NotImportable)
	}
	if !p.InSync() {
		t.Error("mappings that can never be sent must not count as changes")
	}
	if !strings.Contains(p.String(), "mapping myapp-external-api: not importable: the server has no mappings API") {
		t.Errorf("plan text:\n%s", p)
	}
}

// --- scenarios against the fake server ---

func desiredSet() ([]Service, []Mapping) {
	g, err := Generate(AppSettings{AppName: "myapp", APIHost: "myapp", APIPort: 8080, WebUIServedByAPI: true, GRPCHealthEnabled: true, GRPCHealthPort: 50051}, Extras{})
	if err != nil {
		panic(err)
	}
	return g.Services.Services, g.Mappings.Mappings
}

// syncCluster lists the cluster, plans and applies, like `rookery marchproxy import`.
func syncCluster(t *testing.T, e *env, desired []Service, opts PlanOptions) (ChangePlan, Report, error) {
	t.Helper()
	ctx := context.Background()
	actual, err := e.client.ListServices(ctx, opts.ClusterID, false)
	if err != nil {
		t.Fatal(err)
	}
	p := Plan(desired, actual, opts)
	rep, err := Apply(ctx, e.client, p)
	return p, rep, err
}

func writes(f *marchproxytest.Server) []string {
	var out []string
	for _, r := range f.Requests() {
		if r.Method != "GET" && !strings.HasPrefix(r.Path, "/api/v1/auth/") {
			out = append(out, fmt.Sprintf("%s %s %d %s", r.Method, r.Path, r.Status, r.Body))
		}
	}
	return out
}

func TestScenarioImportFromScratchThenNothing(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, mappings := desiredSet()
	opts := PlanOptions{ClusterID: 1, AppName: "myapp", Mappings: mappings}

	p, rep, err := syncCluster(t, e, desired, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Count(ActionCreate) != 3 || len(rep.Applied) != 3 || !rep.Complete() {
		t.Fatalf("plan %v report %v", p, rep)
	}
	for _, s := range rep.Applied {
		if s.ServiceID == 0 {
			t.Errorf("%s: applied create has no id", s.Name)
		}
	}
	if len(rep.NotImportable) != 2 {
		t.Errorf("mappings not reported: %+v", rep.NotImportable)
	}
	grpc, _ := e.fake.ServiceByName("myapp-grpc-health")
	if grpc.Protocol != "tcp" || !grpc.HealthCheckEnabled || grpc.ClusterID != 1 {
		t.Errorf("grpc service stored as %+v", grpc)
	}

	e.fake.ResetRequests()
	p, rep, err = syncCluster(t, e, desired, opts)
	if err != nil || !p.InSync() || len(rep.Applied) != 0 {
		t.Fatalf("second run: %v %v %v", p, rep, err)
	}
	if w := writes(e.fake); len(w) != 0 {
		t.Fatalf("second run wrote: %v", w)
	}
}

func TestScenarioPortChangeIsOnePatch(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, _ := desiredSet()
	if _, _, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range desired {
		if desired[i].Name == "myapp-api" {
			desired[i].Port = 8081
		}
	}
	e.fake.ResetRequests()
	if _, _, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1}); err != nil {
		t.Fatal(err)
	}
	api, _ := e.fake.ServiceByName("myapp-api")
	want := []string{fmt.Sprintf(`PATCH /api/v1/services/%d 200 {"port":8081}`, api.ID)}
	if got := writes(e.fake); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("writes = %v, want %v", got, want)
	}
}

func TestScenarioPrune(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, _ := desiredSet()
	if _, _, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1}); err != nil {
		t.Fatal(err)
	}
	stale := addRemote(e.fake, 1, "myapp-legacy", true)
	foreign := addRemote(e.fake, 1, "otherapp-api", true)

	e.fake.ResetRequests()
	p, _, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1, AppName: "myapp"})
	if err != nil || !p.InSync() || len(writes(e.fake)) != 0 {
		t.Fatalf("without --prune: %v %v %v", p, writes(e.fake), err)
	}

	p, _, err = syncCluster(t, e, desired, PlanOptions{ClusterID: 1, AppName: "myapp", Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("DELETE /api/v1/services/%d 204 ", stale.ID)}
	if got := writes(e.fake); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("writes = %v, want %v", got, want)
	}
	if s, _ := e.fake.ServiceByName("myapp-legacy"); s.IsActive {
		t.Error("stale service still active")
	}
	if s, _ := e.fake.ServiceByName(foreign.Name); !s.IsActive {
		t.Error("prune touched another application's service")
	}
	if p.Count(ActionDelete) != 1 {
		t.Errorf("plan = %v", p)
	}
}

func TestScenarioSoftDeletedIsReactivated(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, _ := desiredSet()
	if _, _, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1}); err != nil {
		t.Fatal(err)
	}
	api, _ := e.fake.ServiceByName("myapp-api")
	if err := e.client.DeleteService(context.Background(), api.ID, false); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetRequests()
	p, _, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf(`PATCH /api/v1/services/%d 200 {"is_active":true}`, api.ID)}
	if got := writes(e.fake); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("writes = %v, want %v (a POST would 400 on the taken name)", got, want)
	}
	if p.Count(ActionReactivate) != 1 {
		t.Errorf("plan = %v", p)
	}
	if s, _ := e.fake.ServiceByName("myapp-api"); !s.IsActive {
		t.Error("not reactivated")
	}
}

func TestScenarioExpiredTokenMidRun(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, _ := desiredSet()
	ctx := context.Background()
	actual, err := e.client.ListServices(ctx, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	p := Plan(desired, actual, PlanOptions{ClusterID: 1})
	// Tokens (access and refresh) die after the first step.
	w := &hookWriter{ServiceWriter: e.client, after: func(n int) {
		if n == 1 {
			e.fake.ExpireTokens()
		}
	}}
	rep, err := Apply(ctx, w, p)
	if err != nil || !rep.Complete() || len(rep.Applied) != 3 {
		t.Fatalf("report %v, err %v", rep, err)
	}
	tr := strings.Join(trace(e.fake), "\n")
	if !strings.Contains(tr, "POST /api/v1/services 401\nPOST /api/v1/auth/refresh 401\nPOST /api/v1/auth/login 200\nPOST /api/v1/services 201") {
		t.Fatalf("no re-login mid-run:\n%s", tr)
	}
	if n := len(e.fake.Services()); n != 3 {
		t.Fatalf("%d services on the server, want 3 (no duplicate create)", n)
	}
}

type hookWriter struct {
	ServiceWriter
	n     int
	after func(n int)
}

func (h *hookWriter) CreateService(ctx context.Context, in ServiceCreate) (RemoteService, error) {
	r, err := h.ServiceWriter.CreateService(ctx, in)
	h.n++
	h.after(h.n)
	return r, err
}

func TestScenarioServerDownMidway(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, mappings := desiredSet()
	actual, err := e.client.ListServices(context.Background(), 1, false)
	if err != nil {
		t.Fatal(err)
	}
	p := Plan(desired, actual, PlanOptions{ClusterID: 1, Mappings: mappings})
	w := &hookWriter{ServiceWriter: e.client, after: func(n int) {
		if n == 1 {
			e.fake.SetDown(true)
		}
	}}
	rep, err := Apply(context.Background(), w, p)
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), "apply step 2 of 3 (create myapp-grpc-health)") {
		t.Errorf("error = %v", err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].Name != "myapp-api" || rep.Applied[0].ServiceID == 0 {
		t.Fatalf("applied = %+v", rep.Applied)
	}
	if len(rep.NotApplied) != 2 || rep.NotApplied[0].Name != "myapp-grpc-health" || rep.NotApplied[1].Name != "myapp-webui" {
		t.Fatalf("not applied = %+v", rep.NotApplied)
	}
	text := rep.String()
	for _, w := range []string{"applied 1 of 3 steps", "done: create myapp-api", "FAILED: create myapp-grpc-health", "not applied: create myapp-webui", "not importable: the server has no mappings API"} {
		if !strings.Contains(text, w) {
			t.Errorf("report lacks %q:\n%s", w, text)
		}
	}

	// Back up: the next run picks up exactly what is missing.
	e.fake.SetDown(false)
	p2, rep2, err := syncCluster(t, e, desired, PlanOptions{ClusterID: 1})
	if err != nil || p2.Count(ActionCreate) != 2 || !rep2.Complete() {
		t.Fatalf("resume: %v %v %v", p2, rep2, err)
	}
}

func TestScenario500AfterN(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	desired, _ := desiredSet()
	actual, err := e.client.ListServices(context.Background(), 1, false)
	if err != nil {
		t.Fatal(err)
	}
	p := Plan(desired, actual, PlanOptions{ClusterID: 1})
	e.fake.FailAfter(2)
	rep, err := Apply(context.Background(), e.client, p)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 500 {
		t.Fatalf("err = %v", err)
	}
	if len(rep.Applied) != 2 || len(rep.NotApplied) != 1 || rep.Error == "" {
		t.Fatalf("report = %+v", rep)
	}
}

func TestApplyStopsOnCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Plan([]Service{validService("api")}, nil, PlanOptions{ClusterID: 1})
	rep, err := Apply(ctx, nil, p)
	if !errors.Is(err, context.Canceled) || len(rep.NotApplied) != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
}

func BenchmarkPlan1000(b *testing.B) {
	desired := make([]Service, 1000)
	actual := make([]RemoteService, 1000)
	for i := range desired {
		s := validService(fmt.Sprintf("svc%04d", i))
		desired[i] = s
		if i%10 == 0 {
			s.Port++
		}
		actual[i] = remoteOf(i+1, s, 1, i%50 != 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		p := Plan(desired, actual, PlanOptions{ClusterID: 1, Prune: true, AppName: "myapp"})
		if len(p.Steps) == 0 {
			b.Fatal("no steps")
		}
	}
}

func BenchmarkValidate1000(b *testing.B) {
	services := make([]Service, 1000)
	for i := range services {
		services[i] = validService(fmt.Sprintf("svc%04d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate("myapp", services, nil); err != nil {
			b.Fatal(err)
		}
	}
}
