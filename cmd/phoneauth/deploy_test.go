package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The deploy files, relative to this package. The container files are not
// run on the machines this repository is tested on (they have no container
// daemon); this is what can be checked of them here.
var deployFiles = []string{"Dockerfile", "compose.yaml", "deploy/Caddyfile", "deploy/phoneauth.service"}

var variableRE = regexp.MustCompile(`\bPHONEAUTH_[A-Z0-9_]+`)

// knownVariables returns every variable loadConfig reads, as loadConfig
// itself asks for them: the configuration cannot know a variable the
// set misses. A secret's NAME_FILE is among them. Every provider is named,
// so that each one's variables are read.
func knownVariables() map[string]bool {
	known := map[string]bool{}
	var all []string
	for name := range providers {
		if name != "console" {
			all = append(all, name)
		}
	}
	_, _ = loadConfig(func(name string) string {
		known[name] = true
		if name == "PHONEAUTH_SMS_PROVIDER" {
			return strings.Join(all, ",")
		}
		return ""
	})
	return known
}

func TestDeployFilesSetOnlyKnownVariables(t *testing.T) {
	t.Parallel()
	known := knownVariables()
	for _, name := range deployFiles {
		f, err := os.Open(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			for _, v := range variableRE.FindAllString(sc.Text(), -1) {
				if !known[v] {
					t.Errorf("%s:%d: %s is not a variable phoneauth reads", name, line, v)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		f.Close()
	}
}

func TestKnownVariablesIncludeTheSecretFiles(t *testing.T) {
	t.Parallel()
	known := knownVariables()
	for _, v := range []string{"PHONEAUTH_ADDR", "PHONEAUTH_JWT_SECRET", "PHONEAUTH_JWT_SECRET_FILE", "PHONEAUTH_SMS_WEBHOOK_SECRET_FILE", "PHONEAUTH_DATABASE_URL_FILE", "PHONEAUTH_REDIS_URL_FILE", "PHONEAUTH_TRUSTED_PROXIES"} {
		if !known[v] {
			t.Errorf("%s is not among the variables loadConfig reads", v)
		}
	}
	for _, v := range []string{"PHONEAUTH_ADDR_FILE", "PHONEAUTH_LOG_FORMAT_FILE"} {
		if known[v] {
			t.Errorf("%s is among the variables loadConfig reads: only secrets come from files", v)
		}
	}
}
