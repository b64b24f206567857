package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestOneStatusWritePath reads the package's source: the only function
// that writes an Agent's status is patchStatus (agentstatus.go says why
// one typed helper). The other status writes are RegistrationToken's,
// named here; a new one anywhere else fails until it goes through
// patchStatus or is added here with a reason. No hand-built patch (raw
// bytes, server-side apply) is made anywhere.
func TestOneStatusWritePath(t *testing.T) {
	allowed := map[string]string{
		"patchStatus": "the Agent status write",
		"takeSeat":    "a RegistrationToken's seat count",
		"releaseSeat": "a RegistrationToken's seat count",
		"noteRefusal": "a RegistrationToken's history",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "client" && (sel.Sel.Name == "RawPatch" || sel.Sel.Name == "Apply") {
					t.Errorf("%s: %s builds a patch by hand (client.%s); write status through patchStatus", fset.Position(call.Pos()), fn.Name.Name, sel.Sel.Name)
				}
				if sel.Sel.Name != "Patch" && sel.Sel.Name != "Update" && sel.Sel.Name != "Apply" {
					return true
				}
				inner, ok := sel.X.(*ast.CallExpr)
				if !ok {
					return true
				}
				if s, ok := inner.Fun.(*ast.SelectorExpr); !ok || s.Sel.Name != "Status" {
					return true
				}
				found[fn.Name.Name] = true
				if _, ok := allowed[fn.Name.Name]; !ok {
					t.Errorf("%s: %s writes a status itself (Status().%s); Agent status goes through patchStatus", fset.Position(call.Pos()), fn.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	var missing []string
	for fn := range allowed {
		if !found[fn] {
			missing = append(missing, fn)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		// The check reads nothing if it finds no writes at all.
		t.Errorf("no status write found in %v: the check no longer sees the code it guards", missing)
	}
}
