package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root is the module root, seen from this package's directory.
var root = filepath.Join("..", "..")

// statusByName maps the net/http constants the gateway answers with to
// their numbers; a new one fails the test until it is added here.
var statusByName = map[string]int{
	"StatusBadRequest": http.StatusBadRequest, "StatusUnauthorized": http.StatusUnauthorized,
	"StatusForbidden": http.StatusForbidden, "StatusNotFound": http.StatusNotFound,
	"StatusMethodNotAllowed": http.StatusMethodNotAllowed, "StatusRequestTimeout": http.StatusRequestTimeout,
	"StatusConflict": http.StatusConflict, "StatusRequestEntityTooLarge": http.StatusRequestEntityTooLarge,
	"StatusTooManyRequests": http.StatusTooManyRequests, "StatusInternalServerError": http.StatusInternalServerError,
	"StatusServiceUnavailable": http.StatusServiceUnavailable,
}

// parseDir parses the non-test Go files of a directory under the root.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// codeConstants returns the values of the constants named Code* in files.
func codeConstants(files []*ast.File) map[string]string {
	codes := map[string]string{} // constant name -> value
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					codes[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
	}
	return codes
}

// answeredWith finds every call that passes an http.Status* constant
// followed by an error code constant (fail, failRetry, refuse, writeError,
// ...) and returns the statuses each code is answered with.
func answeredWith(t *testing.T, files []*ast.File, codes map[string]string) map[string][]int {
	t.Helper()
	found := map[string][]int{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for i := 0; i+1 < len(call.Args); i++ {
				st, ok := call.Args[i].(*ast.SelectorExpr)
				if !ok || !strings.HasPrefix(st.Sel.Name, "Status") {
					continue
				}
				var codeName string
				switch c := call.Args[i+1].(type) {
				case *ast.SelectorExpr:
					codeName = c.Sel.Name
				case *ast.Ident:
					codeName = c.Name
				}
				code, ok := codes[codeName]
				if !ok {
					continue
				}
				status, ok := statusByName[st.Sel.Name]
				if !ok {
					t.Fatalf("http.%s: add it to statusByName", st.Sel.Name)
				}
				if !slices.Contains(found[code], status) {
					found[code] = append(found[code], status)
				}
			}
			return true
		})
	}
	return found
}

// TestProtocolDocListsEveryCodeAndLimitFlag keeps docs/protocol.md honest
// for someone writing a client from it alone: every error code the gateway
// or its release handler defines is in its table with each HTTP status the
// code answers it with, every header constant is named, and every manager
// flag that sets a limit a client runs into is mentioned.
func TestProtocolDocListsEveryCodeAndLimitFlag(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)

	// The error code table: | `Code` | 401 | meaning |
	documented := map[string]string{}
	row := regexp.MustCompile("^\\| `([A-Za-z]+)` \\| ([0-9, ]+) \\|")
	for _, line := range strings.Split(doc, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = m[2]
		}
	}
	gateway, release := parseDir(t, "internal/gateway"), parseDir(t, "internal/release")
	codes := codeConstants(parseDir(t, "internal/protocol"))
	releaseCodes := codeConstants(release)
	for name, code := range releaseCodes {
		codes["release."+name] = code
	}
	if len(codes) < 10 {
		t.Fatalf("found only %d error codes: is the parsing broken?", len(codes))
	}
	statuses := answeredWith(t, gateway, codes)
	for code, s := range answeredWith(t, release, releaseCodes) {
		statuses[code] = append(statuses[code], s...)
	}
	for name, code := range codes {
		cell, ok := documented[code]
		if !ok {
			t.Errorf("docs/protocol.md's error table has no row for %s (%q)", name, code)
			continue
		}
		for _, s := range statuses[code] {
			if !strings.Contains(cell, strconv.Itoa(s)) {
				t.Errorf("docs/protocol.md gives %s the status %q; the code also answers it with %d", code, cell, s)
			}
		}
	}

	// Headers.
	for _, h := range []string{HeaderAgent, HeaderMachineID, HeaderTimestamp, HeaderNonce, HeaderSignature, "Retry-After", "Cache-Control", "Content-Type"} {
		if !strings.Contains(doc, "`"+h) {
			t.Errorf("docs/protocol.md does not name the header %s", h)
		}
	}

	// Flags that set a limit or timing a client meets.
	clientFacing := []string{"PerIPRate", "PerIPBurst", "PerAgentRate", "PerAgentBurst", "RegisterRate", "RegisterBurst", "ClockSkew", "HeartbeatInterval", "DefaultCheckInInterval"}
	fset := token.NewFileSet()
	mainFile, err := parser.ParseFile(fset, filepath.Join(root, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags := 0
	ast.Inspect(mainFile, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		fn, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := fn.X.(*ast.Ident); !ok || x.Name != "flag" {
			return true
		}
		target, ok := call.Args[0].(*ast.UnaryExpr)
		if !ok {
			return true
		}
		field, ok := target.X.(*ast.SelectorExpr)
		if !ok || !slices.Contains(clientFacing, field.Sel.Name) {
			return true
		}
		lit, ok := call.Args[1].(*ast.BasicLit)
		if !ok {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		flags++
		if !strings.Contains(doc, "`--"+name+"`") {
			t.Errorf("docs/protocol.md does not mention --%s, which sets gateway.Options.%s", name, field.Sel.Name)
		}
		return true
	})
	if flags == 0 {
		t.Error("main.go binds no client-facing gateway option to a flag: is the parsing broken?")
	}
}
