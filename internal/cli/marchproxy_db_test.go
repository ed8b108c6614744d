package cli

import (
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// TestMarchProxySettingsFromDatabase runs the marchproxy commands with the
// settings stored in each database, as an operator does: the stored values
// reach the client, the environment overrides them, and flags override the
// environment.
func TestMarchProxySettingsFromDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		t.Setenv("DATA_DIR", t.TempDir())
		t.Setenv("DATABASE_URL", s.URL)
		t.Setenv("BCRYPT_COST", "4")
		mpClearEnv(t)
		f := mpFake(t)
		// Every output and error is kept, to check that no secret is printed.
		var printed strings.Builder
		run := func(t *testing.T, stdin string, args ...string) (string, error) {
			t.Helper()
			out, err := run(t, stdin, args...)
			printed.WriteString(out)
			if err != nil {
				printed.WriteString(err.Error())
			}
			return out, err
		}

		if out, err := run(t, "", "migrate"); err != nil {
			t.Fatalf("migrate: %v %s", err, out)
		}
		// The stored password is wrong: only the environment's is right.
		stdin := f.URL + "\nwrong-password-99\n" + mpTestKey + "\n"
		if out, err := run(t, stdin, "config", "set", "marchproxy_api", "-", "marchproxy_password", "-", "cluster_api_key", "-", "marchproxy_username", mpTestUser); err != nil {
			t.Fatalf("config set: %v %s", err, out)
		}

		out, err := run(t, "", "marchproxy", "diff", "--generate")
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "Incorrect username or password") {
			t.Fatalf("diff with the stored password: exit %d %v\n%s", exitCode(err), err, out)
		}

		t.Setenv(envMarchProxyPassword, mpTestPassword)
		out, err = run(t, "", "marchproxy", "import", "--generate")
		if err != nil || !strings.Contains(out, "applied 2 of 2 steps") || !strings.Contains(out, "verified: the cluster 1 config lists all 2 services") {
			t.Fatalf("import with MARCHPROXY_PASSWORD: %v\n%s", err, out)
		}
		if out, err := run(t, "", "marchproxy", "diff", "--generate"); err != nil || !strings.Contains(out, "0 to create, 0 to update") {
			t.Fatalf("diff after import: exit %d %v\n%s", exitCode(err), err, out)
		}

		t.Setenv(envMarchProxyClusterID, "abc")
		if _, err := run(t, "", "marchproxy", "diff", "--generate"); exitCode(err) != 1 || !strings.Contains(err.Error(), `MARCHPROXY_CLUSTER_ID: "abc" is not a cluster id`) {
			t.Fatalf("bad MARCHPROXY_CLUSTER_ID: exit %d %v", exitCode(err), err)
		}
		t.Setenv(envMarchProxyClusterID, "2")
		// Cluster 2 has none of the services: the flag's cluster 1 is in sync.
		if _, err := run(t, "", "marchproxy", "diff", "--generate"); exitCode(err) != 2 {
			t.Fatalf("MARCHPROXY_CLUSTER_ID=2: exit %d %v", exitCode(err), err)
		}
		if _, err := run(t, "", "marchproxy", "diff", "--generate", "--cluster-id", "1"); err != nil {
			t.Fatalf("--cluster-id 1 over MARCHPROXY_CLUSTER_ID=2: exit %d %v", exitCode(err), err)
		}
		for _, secret := range []string{mpTestPassword, mpTestKey, "wrong-password-99"} {
			if strings.Contains(printed.String(), secret) {
				t.Fatalf("secret %q printed", secret)
			}
		}
	})
}
