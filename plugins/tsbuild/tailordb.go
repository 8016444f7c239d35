package tsbuild

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// tailordbNamespace is the esbuild namespace of virtual TailorDB type
// modules.
const tailordbNamespace = "execvault-tailordb"

// resolvableExtensions are tried, in order, after an import path that
// names a TailorDB file without its extension, as esbuild itself does.
var resolvableExtensions = []string{".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".json"}

// tailordbPlugin implements the TailorDB import rule of the package
// documentation: a relative or absolute import path with a "tailordb"
// directory in it that names no existing file resolves to a virtual module
// exporting { name } objects.
func tailordbPlugin() api.Plugin {
	return api.Plugin{
		Name: "execvault-tailordb",
		Setup: func(b api.PluginBuild) {
			b.OnResolve(api.OnResolveOptions{Filter: `(^|/)tailordb(/|$)`},
				func(args api.OnResolveArgs) (api.OnResolveResult, error) {
					if args.Namespace != "file" || !isPathImport(args.Path) {
						return api.OnResolveResult{}, nil
					}
					target := args.Path
					if !filepath.IsAbs(target) {
						target = filepath.Join(args.ResolveDir, filepath.FromSlash(target))
					}
					if sourceFileExists(target) {
						return api.OnResolveResult{}, nil
					}

					names := importedNames(args.Importer, args.Path)
					// The names are part of the path because esbuild loads
					// one module per path: two files importing different
					// names from the same missing file each get a module
					// that exports what they import.
					return api.OnResolveResult{
						Path:       target + "#" + strings.Join(names, ","),
						Namespace:  tailordbNamespace,
						PluginData: names,
					}, nil
				})
			b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: tailordbNamespace},
				func(args api.OnLoadArgs) (api.OnLoadResult, error) {
					names, _ := args.PluginData.([]string)
					base := args.Path[:strings.LastIndexByte(args.Path, '#')]
					contents := virtualTypeModule(typeNameFromPath(base), names)
					return api.OnLoadResult{Contents: &contents, Loader: api.LoaderJS}, nil
				})
		},
	}
}

func isPathImport(spec string) bool {
	return strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || filepath.IsAbs(spec)
}

// sourceFileExists reports whether an import of target finds a file the way
// esbuild looks for one. It tries the path itself, the path with a source
// extension, the path with ".js" swapped for a TypeScript extension, and an
// index file in a directory of that name.
func sourceFileExists(target string) bool {
	isFile := func(p string) bool {
		info, err := os.Stat(p)
		return err == nil && info.Mode().IsRegular()
	}
	if isFile(target) {
		return true
	}
	for _, ext := range resolvableExtensions {
		if isFile(target + ext) {
			return true
		}
	}
	if stem, ok := strings.CutSuffix(target, ".js"); ok {
		for _, ext := range []string{".ts", ".tsx"} {
			if isFile(stem + ext) {
				return true
			}
		}
	}
	for _, ext := range resolvableExtensions {
		if isFile(filepath.Join(target, "index"+ext)) {
			return true
		}
	}
	return false
}

// typeNameFromPath is the default export's type name: the file name
// without its extension.
func typeNameFromPath(p string) string {
	name := path.Base(filepath.ToSlash(p))
	for _, ext := range resolvableExtensions {
		if stem, ok := strings.CutSuffix(name, ext); ok {
			return stem
		}
	}
	return name
}

// identifier matches a JavaScript IdentifierName made of letters, digits,
// "_" and "$".
var identifier = regexp.MustCompile(`^[\p{L}\p{Nl}_$][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_$]*$`)

// bracedNames matches the { ... } part of an import or export clause.
var bracedNames = regexp.MustCompile(`\{([^{}]*)\}`)

// importedNames returns, sorted, the names that importer imports or
// re-exports from spec with `import { a, b as c } from "spec"` or
// `export { a } from "spec"`, type-only names included. A namespace import
// (`import * as ns`) contributes nothing, so its properties are undefined.
// An importer that cannot be read contributes nothing either.
func importedNames(importer, spec string) []string {
	source, err := os.ReadFile(importer)
	if err != nil {
		return nil
	}
	clause := regexp.MustCompile(`\b(?:import|export)\s+(?:type\s+)?([^;"'` + "`" + `]*?)\s*from\s*["']` + regexp.QuoteMeta(spec) + `["']`)

	var names []string
	for _, m := range clause.FindAllStringSubmatch(string(source), -1) {
		for _, braces := range bracedNames.FindAllStringSubmatch(m[1], -1) {
			for _, item := range strings.Split(braces[1], ",") {
				name := strings.TrimSpace(item)
				name = strings.TrimSpace(strings.TrimPrefix(name, "type "))
				if before, _, ok := strings.Cut(name, " as "); ok {
					name = strings.TrimSpace(before)
				}
				if name == "" || name == "default" || !identifier.MatchString(name) || slices.Contains(names, name) {
					continue
				}
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// virtualTypeModule is the source of a virtual TailorDB module: each
// name x is exported as { name: "x" }, and the default export carries the
// file's name.
func virtualTypeModule(fileName string, names []string) string {
	var b strings.Builder
	quotedFile, _ := json.Marshal(fileName)
	b.WriteString("export default { name: " + string(quotedFile) + " };\n")
	for i, name := range names {
		quoted, _ := json.Marshal(name)
		b.WriteString("const t" + strconv.Itoa(i) + " = { name: " + string(quoted) + " };\n")
		b.WriteString("export { t" + strconv.Itoa(i) + " as " + name + " };\n")
	}
	return b.String()
}
