package marchproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Action is what a Step does.
type Action string

const (
	ActionCreate     Action = "create"     // POST a new service
	ActionUpdate     Action = "update"     // PATCH the fields that differ
	ActionReactivate Action = "reactivate" // PATCH is_active on a soft-deleted service
	ActionDelete     Action = "delete"     // soft DELETE (only with Prune)
)

// ReasonNoMappingsAPI is why mappings are never sent.
const ReasonNoMappingsAPI = "not importable: the server has no mappings API"

// PlanOptions says where and how to plan.
type PlanOptions struct {
	// ClusterID is the target cluster; remote services of other clusters
	// are ignored. It is sent as cluster_id on create.
	ClusterID int
	// Prune deletes (soft) active services of the cluster that are not
	// desired. Only services named "{AppName}-..." are pruned, so that
	// applications sharing a cluster leave each other alone; with an empty
	// AppName every undesired service of the cluster is pruned.
	Prune   bool
	AppName string
	// Mappings are reported in the plan as not importable.
	Mappings []Mapping
}

// Step is one change to the server.
type Step struct {
	Action    Action         `json:"action"`
	Name      string         `json:"name"`
	ServiceID int            `json:"service_id,omitempty"`
	Create    *ServiceCreate `json:"create,omitempty"`
	Patch     *ServicePatch  `json:"patch,omitempty"`
	Changes   []Change       `json:"changes,omitempty"`
}

func (s Step) String() string {
	switch s.Action {
	case ActionCreate:
		c := s.Create
		return fmt.Sprintf("+ create %s (%s %s:%d)", s.Name, c.Protocol, c.IPFQDN, c.Port)
	case ActionDelete:
		return fmt.Sprintf("- delete %s (id %d, soft delete)", s.Name, s.ServiceID)
	}
	parts := make([]string, len(s.Changes))
	for i, ch := range s.Changes {
		parts[i] = ch.String()
	}
	mark := "~"
	if s.Action == ActionReactivate {
		mark = "^"
	}
	return fmt.Sprintf("%s %s %s (id %d): %s", mark, s.Action, s.Name, s.ServiceID, strings.Join(parts, ", "))
}

// Change is one field of an update, for people to read.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

func (c Change) String() string { return fmt.Sprintf("%s %s -> %s", c.Field, c.From, c.To) }

// NotImportable is something of the configuration the server cannot take.
type NotImportable struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (n NotImportable) String() string { return fmt.Sprintf("%s %s: %s", n.Kind, n.Name, n.Reason) }

// ChangePlan is the result of Plan: what Apply would do, in order.
type ChangePlan struct {
	ClusterID     int             `json:"cluster_id"`
	Steps         []Step          `json:"steps"`
	Warnings      []string        `json:"warnings"`
	NotImportable []NotImportable `json:"not_importable"`
}

// InSync reports whether the plan changes nothing on the server. Mappings
// that cannot be imported do not count: no run could ever send them.
func (p ChangePlan) InSync() bool { return len(p.Steps) == 0 }

// Count returns how many steps have the action.
func (p ChangePlan) Count(a Action) int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == a {
			n++
		}
	}
	return n
}

func (p ChangePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %d: %d to create, %d to update, %d to reactivate, %d to delete\n",
		p.ClusterID, p.Count(ActionCreate), p.Count(ActionUpdate), p.Count(ActionReactivate), p.Count(ActionDelete))
	for _, s := range p.Steps {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	for _, w := range p.Warnings {
		b.WriteString("warning: ")
		b.WriteString(w)
		b.WriteByte('\n')
	}
	for _, n := range p.NotImportable {
		b.WriteString(n.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ToServer translates a standards service into what the real server accepts
// and returns a warning when a value had to change.
//
// The server knows tcp, udp, http and https but not grpc. gRPC runs on
// HTTP/2 with trailers, which an HTTP-mode proxy may not carry; layer-4
// tcp passes it through untouched, with or without TLS, so grpc becomes tcp.
// The health-check path is kept for the record, but a tcp health check can
// only test that the port accepts connections.
func ToServer(s Service) (Service, string) {
	if s.Protocol == ProtocolGRPC {
		s.Protocol = ProtocolTCP
		return s, fmt.Sprintf("%s: protocol grpc is unknown to the MarchProxy server; sent as tcp (layer-4 pass-through keeps HTTP/2 and trailers intact, the health check only tests the connection)", s.Name)
	}
	return s, ""
}

// Plan compares desired services with the services on the server and lists
// the steps that make the cluster match. It never fails: desired services
// should have passed Validate; a duplicate name keeps its first entry and is
// reported as a warning.
func Plan(desired []Service, actual []RemoteService, opts PlanOptions) ChangePlan {
	plan := ChangePlan{ClusterID: opts.ClusterID, Steps: []Step{}, Warnings: []string{}, NotImportable: []NotImportable{}}

	// Names are unique on the server, but prefer an active entry should a
	// server ever return two.
	remote := make(map[string]RemoteService)
	for _, r := range actual {
		if opts.ClusterID != 0 && r.ClusterID != opts.ClusterID {
			continue
		}
		if old, ok := remote[r.Name]; ok && old.IsActive && !r.IsActive {
			continue
		}
		remote[r.Name] = r
	}

	want := make(map[string]bool, len(desired))
	sorted := slices.Clone(desired)
	slices.SortStableFunc(sorted, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	for _, d := range sorted {
		if want[d.Name] {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: defined more than once; only the first definition is used", d.Name))
			continue
		}
		want[d.Name] = true
		d, warn := ToServer(d)
		if warn != "" {
			plan.Warnings = append(plan.Warnings, warn)
		}
		r, exists := remote[d.Name]
		if !exists {
			plan.Steps = append(plan.Steps, Step{Action: ActionCreate, Name: d.Name, Create: &ServiceCreate{
				Name: d.Name, IPFQDN: d.IPFQDN, Port: d.Port, ClusterID: opts.ClusterID,
				Protocol: d.Protocol, Collection: d.Collection, AuthType: d.AuthType,
				TLSEnabled: d.TLSEnabled, HealthCheckEnabled: d.HealthCheckEnabled,
				HealthCheckPath: d.HealthCheckPath, HealthCheckInterval: d.HealthCheckInterval,
			}})
			continue
		}
		patch, changes := diffService(d, r)
		if !r.IsActive {
			t := true
			patch.IsActive = &t
			changes = append([]Change{{Field: "is_active", From: "false", To: "true"}}, changes...)
			plan.Steps = append(plan.Steps, Step{Action: ActionReactivate, Name: d.Name, ServiceID: r.ID, Patch: &patch, Changes: changes})
			continue
		}
		if len(changes) > 0 {
			plan.Steps = append(plan.Steps, Step{Action: ActionUpdate, Name: d.Name, ServiceID: r.ID, Patch: &patch, Changes: changes})
		}
	}

	if opts.Prune {
		var dels []Step
		for name, r := range remote {
			if want[name] || !r.IsActive {
				continue
			}
			if opts.AppName != "" && !strings.HasPrefix(name, opts.AppName+"-") {
				continue
			}
			dels = append(dels, Step{Action: ActionDelete, Name: name, ServiceID: r.ID})
		}
		slices.SortFunc(dels, func(a, b Step) int { return cmp.Compare(a.Name, b.Name) })
		plan.Steps = append(plan.Steps, dels...)
	}

	for _, m := range opts.Mappings {
		plan.NotImportable = append(plan.NotImportable, NotImportable{Kind: "mapping", Name: m.Name, Reason: ReasonNoMappingsAPI})
	}
	return plan
}

// diffService returns a patch holding only the fields of d that differ from
// r. A null collection or health-check path on the server equals "".
func diffService(d Service, r RemoteService) (ServicePatch, []Change) {
	var p ServicePatch
	var ch []Change
	str := func(field, want, have string, dst **string) {
		if want != have {
			v := want
			*dst = &v
			ch = append(ch, Change{Field: field, From: strconv.Quote(have), To: strconv.Quote(want)})
		}
	}
	num := func(field string, want, have int, dst **int) {
		if want != have {
			v := want
			*dst = &v
			ch = append(ch, Change{Field: field, From: strconv.Itoa(have), To: strconv.Itoa(want)})
		}
	}
	flag := func(field string, want, have bool, dst **bool) {
		if want != have {
			v := want
			*dst = &v
			ch = append(ch, Change{Field: field, From: strconv.FormatBool(have), To: strconv.FormatBool(want)})
		}
	}
	str("ip_fqdn", d.IPFQDN, r.IPFQDN, &p.IPFQDN)
	num("port", d.Port, r.Port, &p.Port)
	str("protocol", d.Protocol, r.Protocol, &p.Protocol)
	str("collection", d.Collection, deref(r.Collection), &p.Collection)
	str("auth_type", d.AuthType, r.AuthType, &p.AuthType)
	flag("tls_enabled", d.TLSEnabled, r.TLSEnabled, &p.TLSEnabled)
	flag("health_check_enabled", d.HealthCheckEnabled, r.HealthCheckEnabled, &p.HealthCheckEnabled)
	str("health_check_path", d.HealthCheckPath, deref(r.HealthCheckPath), &p.HealthCheckPath)
	num("health_check_interval", d.HealthCheckInterval, r.HealthCheckInterval, &p.HealthCheckInterval)
	return p, ch
}

// ServiceWriter is what Apply needs of a client; *Client implements it.
type ServiceWriter interface {
	CreateService(ctx context.Context, in ServiceCreate) (RemoteService, error)
	PatchService(ctx context.Context, id int, p ServicePatch) (RemoteService, error)
	DeleteService(ctx context.Context, id int, permanent bool) error
}

// Report says what Apply did. Applied and NotApplied together hold every
// step of the plan, in order; when a step failed it is NotApplied[0].
type Report struct {
	Applied       []Step          `json:"applied"`
	NotApplied    []Step          `json:"not_applied"`
	Error         string          `json:"error,omitempty"`
	NotImportable []NotImportable `json:"not_importable"`
}

// Complete reports whether every step was applied.
func (r Report) Complete() bool { return len(r.NotApplied) == 0 }

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "applied %d of %d steps\n", len(r.Applied), len(r.Applied)+len(r.NotApplied))
	for _, s := range r.Applied {
		fmt.Fprintf(&b, "  done: %s %s", s.Action, s.Name)
		if s.ServiceID != 0 {
			fmt.Fprintf(&b, " (id %d)", s.ServiceID)
		}
		b.WriteByte('\n')
	}
	for i, s := range r.NotApplied {
		state := "not applied"
		if i == 0 && r.Error != "" {
			state = "FAILED"
		}
		fmt.Fprintf(&b, "  %s: %s %s\n", state, s.Action, s.Name)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	for _, n := range r.NotImportable {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}

// Apply carries out the plan's steps in order and stops at the first
// failure (a server that fails one step usually fails the next). The report
// lists exactly which steps were applied and which were not. An expired
// access token is renewed by the client and the step retried, so a long run
// continues past the token's 30 minutes.
func Apply(ctx context.Context, w ServiceWriter, plan ChangePlan) (Report, error) {
	rep := Report{Applied: []Step{}, NotApplied: []Step{}, NotImportable: plan.NotImportable}
	if rep.NotImportable == nil {
		rep.NotImportable = []NotImportable{}
	}
	for i, s := range plan.Steps {
		err := ctx.Err()
		if err == nil {
			err = applyStep(ctx, w, &s)
		}
		if err != nil {
			rep.NotApplied = append(rep.NotApplied, plan.Steps[i:]...)
			rep.Error = err.Error()
			return rep, fmt.Errorf("apply step %d of %d (%s %s): %w", i+1, len(plan.Steps), s.Action, s.Name, err)
		}
		rep.Applied = append(rep.Applied, s)
	}
	return rep, nil
}

func applyStep(ctx context.Context, w ServiceWriter, s *Step) error {
	switch s.Action {
	case ActionCreate:
		if s.Create == nil {
			return errors.New("create step without a body")
		}
		r, err := w.CreateService(ctx, *s.Create)
		if err != nil {
			return err
		}
		s.ServiceID = r.ID
	case ActionUpdate, ActionReactivate:
		if s.Patch == nil || s.ServiceID == 0 {
			return errors.New("update step without a service id or body")
		}
		_, err := w.PatchService(ctx, s.ServiceID, *s.Patch)
		return err
	case ActionDelete:
		if s.ServiceID == 0 {
			return errors.New("delete step without a service id")
		}
		return w.DeleteService(ctx, s.ServiceID, false)
	default:
		return fmt.Errorf("unknown action %q", s.Action)
	}
	return nil
}
