package command

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The map in docs/ is checked here, in the fast tier, so that it cannot
// drift from the tree: every top-level folder is in design.md's layout
// table, every setting of the settings table is in configuration.md, and
// every package imports only what design.md's dependency table allows.

const module = "github.com/longshoreman/longshoreman"

// root is the module root, seen from this package's folder.
const root = ".."

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDesignNamesEveryFolder: each top-level folder of the tree is a row
// of design.md's layout table.
func TestDesignNamesEveryFolder(t *testing.T) {
	design := readDoc(t, "design.md")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !strings.Contains(design, "| `"+e.Name()+"/`") {
			t.Errorf("docs/design.md's layout table has no row for the folder %s/: add one saying what it owns", e.Name())
		}
	}
}

// setting literals are read from the source, so that a setting added
// without its line in the docs fails here.
func settingsInSource(t *testing.T) []setting {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []setting
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "setting" {
				return true
			}
			var vals []string
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					el = kv.Value
				}
				bl, ok := el.(*ast.BasicLit)
				if !ok {
					return false // built from another setting: checked there
				}
				s, _ := strconv.Unquote(bl.Value)
				vals = append(vals, s)
			}
			if len(vals) >= 2 {
				out = append(out, setting{flag: vals[0], env: vals[1]})
			}
			return false
		})
	}
	if len(out) < 40 {
		t.Fatalf("found only %d settings in the source: the parse is wrong", len(out))
	}
	return out
}

// TestConfigurationNamesEverySetting: every flag and environment variable
// of the settings table is in docs/configuration.md.
func TestConfigurationNamesEverySetting(t *testing.T) {
	doc := readDoc(t, "configuration.md")
	for _, s := range settingsInSource(t) {
		if s.flag != "" && !strings.Contains(doc, "`--"+s.flag) {
			t.Errorf("docs/configuration.md does not name the flag --%s (%s): add it to its table", s.flag, s)
		}
		for env := range strings.SplitSeq(s.env, ", ") {
			if env != "" && !strings.Contains(doc, "`"+env+"`") && !strings.Contains(doc, "`"+env+",") {
				t.Errorf("docs/configuration.md does not name %s (%s): add it to its table", env, s)
			}
		}
	}
}

// allowedImports reads design.md's dependency table: rows of
// "| `pkg/` | `a/`, `b/` |", the second cell listing the project's
// packages pkg may import ("nothing" for none).
func allowedImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	design := readDoc(t, "design.md")
	start := strings.Index(design, "## Dependencies")
	if start < 0 {
		t.Fatal(`docs/design.md has no "## Dependencies" section`)
	}
	section := design[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z/.]+)` \\| ([^|]*) \\|")
	name := regexp.MustCompile("`([a-z/.]+)`")
	allowed := map[string]map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		pkg := strings.TrimSuffix(m[1], "/")
		allowed[pkg] = map[string]bool{}
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			allowed[pkg][strings.TrimSuffix(n[1], "/")] = true
		}
	}
	if len(allowed) < 10 {
		t.Fatalf("found only %d rows in design.md's dependency table", len(allowed))
	}
	return allowed
}

// projectImports returns, for every package folder of the tree, the
// project packages its non-test files import.
func projectImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg, _ := filepath.Rel(root, filepath.Dir(path))
		pkg = filepath.ToSlash(pkg)
		if pkg == "." {
			pkg = "main.go"
		}
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module {
				out[pkg]["main"] = true
			} else if rest, ok := strings.CutPrefix(p, module+"/"); ok {
				out[pkg][rest] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportsFollowTheDocumentedDirection: no package imports a project
// package that design.md's dependency table does not allow it, and every
// package has a row.
func TestImportsFollowTheDocumentedDirection(t *testing.T) {
	allowed := allowedImports(t)
	actual := projectImports(t)
	pkgs := make([]string, 0, len(actual))
	for p := range actual {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		ok, listed := allowed[pkg]
		if !listed {
			t.Errorf("docs/design.md's dependency table has no row for %s/: add one with what it may import", pkg)
			continue
		}
		for imp := range actual[pkg] {
			if !ok[imp] {
				t.Errorf("%s/ imports %s, which docs/design.md's dependency table does not allow: change the import, or the design and its table", pkg, imp)
			}
		}
	}
}
