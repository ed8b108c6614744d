package marchproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// ErrNoServicesFile: LoadDir found neither import-config.json nor
// services.json in the directory.
var ErrNoServicesFile = errors.New("no " + ImportFileName + " or " + ServicesFileName)

// ErrNoSiblingServices: a mappings file was checked alone and no services
// file was given with it or found beside it, so its references cannot be
// resolved.
var ErrNoSiblingServices = errors.New("cannot check the service references: give the services file too (validate services.json mappings.json)")

// File is one MarchProxy file read from disk: its path, as given (it is
// used in messages), and what ParseImport found in it.
type File struct {
	Path string
	ImportFile
}

// AppName returns the app named by the file's metadata, or "" when the file
// has no metadata or the metadata names no app.
func (f ImportFile) AppName() string {
	if f.Metadata == nil {
		return ""
	}
	return f.Metadata.AppName
}

// FileError is what is wrong with one file: it could not be read or parsed,
// it breaks the rules (Err is then a *ValidationError), or its references
// could not be checked.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	if e.Err == nil {
		return e.Path + ": invalid"
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap gives errors.Is and errors.As the cause, for example ErrInvalid or
// fs.ErrNotExist.
func (e *FileError) Unwrap() error { return e.Err }

// ReadFile reads and parses one MarchProxy file of any of the three shapes.
// Every failure is a *FileError naming the path.
func ReadFile(path string) (File, error) {
	f, err := readImport(path)
	if err != nil {
		return File{}, &FileError{Path: path, Err: err}
	}
	return File{Path: path, ImportFile: f}, nil
}

// readImport returns the operating system's error as it is (it names the
// path already) and ParseImport's error without the path.
func readImport(path string) (ImportFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ImportFile{}, err
	}
	return ParseImport(data)
}

// Files is what LoadDir found in a directory of generated files.
type Files struct {
	Dir string
	// ServicesPath is the file the services came from: import-config.json,
	// or services.json when the directory has no import-config.json.
	ServicesPath string
	// MappingsPath is the directory's mappings.json, or "" when it has none:
	// a configuration without mappings is complete.
	MappingsPath string
	Services     []Service
	Mappings     []Mapping
	// Metadata is the services file's metadata; nil when it has none, as
	// services.json never has.
	Metadata *Metadata
}

// LoadDir reads a directory written by Generated.Write (or by hand in the
// same shapes): the services of import-config.json, or of services.json
// when there is no import-config.json, and the mappings of mappings.json
// when it exists. Without either services file the error matches
// ErrNoServicesFile. The files are parsed, not validated: see
// Files.Desired and Desired.Validate.
func LoadDir(dir string) (Files, error) {
	out := Files{Dir: dir}
	for _, name := range []string{ImportFileName, ServicesFileName} {
		path := filepath.Join(dir, name)
		f, err := readImport(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, dirFileError(path, err)
		}
		out.ServicesPath, out.Services, out.Metadata = path, f.Services, f.Metadata
		break
	}
	if out.ServicesPath == "" {
		return out, fmt.Errorf("%w in %s", ErrNoServicesFile, dir)
	}
	path := filepath.Join(dir, MappingsFileName)
	f, err := readImport(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return out, dirFileError(path, err)
	default:
		out.MappingsPath, out.Mappings = path, f.Mappings
	}
	return out, nil
}

// dirFileError names the file of a parse error; the operating system's
// errors name it already.
func dirFileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// Desired is the configuration that diff and import bring a cluster to.
type Desired struct {
	// AppName is the app the naming rule and pruning apply to.
	AppName  string
	Services []Service
	Mappings []Mapping
	// Metadata goes with a bulk import.
	Metadata Metadata
}

// Desired turns the loaded files into the desired configuration. The files'
// metadata names the app when it can; otherwise app names it, and app's
// name and version make the metadata.
func (f Files) Desired(app AppSettings) Desired {
	d := Desired{
		AppName:  app.AppName,
		Services: f.Services,
		Mappings: f.Mappings,
		Metadata: Metadata{AppName: app.AppName, GeneratedBy: GeneratedBy, Version: app.Version},
	}
	if f.Metadata != nil {
		d.Metadata = *f.Metadata
		if f.Metadata.AppName != "" {
			d.AppName = f.Metadata.AppName
		}
	}
	return d
}

// Desired is the generated configuration as a desired state.
func (g Generated) Desired() Desired {
	return Desired{
		AppName:  g.Import.Metadata.AppName,
		Services: g.Services.Services,
		Mappings: g.Mappings.Mappings,
		Metadata: g.Import.Metadata,
	}
}

// Validate checks the desired services and mappings together; see Validate.
func (d Desired) Validate() error {
	return Validate(d.AppName, d.Services, d.Mappings)
}

// PlanOptions are the options Plan needs to bring clusterID in line with
// d; prune also deletes the app's services that d no longer has.
func (d Desired) PlanOptions(clusterID int, prune bool) PlanOptions {
	return PlanOptions{ClusterID: clusterID, Prune: prune, AppName: d.AppName, Mappings: d.Mappings}
}

// ImportConfig is the body of the standards' bulk import for d, with the
// services translated to what the real server accepts (see ToServer).
func (d Desired) ImportConfig() ImportConfig {
	cfg := ImportConfig{Metadata: d.Metadata}
	for _, s := range d.Services {
		s, _ = ToServer(s)
		cfg.Services = append(cfg.Services, s)
	}
	return cfg
}

// MissingServices lists, in order, the desired services the cluster config
// does not list: the proxies will not route to them.
func (c ClusterConfig) MissingServices(desired []Service) []string {
	have := make(map[string]bool, len(c.Services))
	for _, s := range c.Services {
		have[s.Name] = true
	}
	var missing []string
	for _, s := range desired {
		if !have[s.Name] {
			missing = append(missing, s.Name)
		}
	}
	return missing
}

// ReadExtras reads an extras file (see ParseExtras). The error names the
// file.
func ReadExtras(path string) (Extras, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Extras{}, fmt.Errorf("read extras: %w", err)
	}
	extras, err := ParseExtras(data)
	if err != nil {
		return Extras{}, fmt.Errorf("%s: %w", path, err)
	}
	return extras, nil
}

// GenerateFrom is Generate with extras, or with the extras read from
// extrasFile instead when extrasFile is not empty: a file given for one
// run replaces the configured extras rather than adding to them.
func GenerateFrom(app AppSettings, extras Extras, extrasFile string) (Generated, error) {
	if extrasFile != "" {
		var err error
		if extras, err = ReadExtras(extrasFile); err != nil {
			return Generated{}, err
		}
	}
	return Generate(app, extras)
}

// Source says where the desired configuration comes from: the files in Dir
// (see LoadDir), or, with Generate, the configuration generated from the
// application's settings, with the extras of ExtrasFile when it is set.
type Source struct {
	Dir        string
	Generate   bool
	ExtrasFile string
}

// Desired reads or generates the desired configuration and validates it.
// app and extras are the application's settings: Generate uses both, the
// files use app only where their metadata says nothing. Rule violations are
// a *ValidationError naming every problem.
func (src Source) Desired(app AppSettings, extras Extras) (Desired, error) {
	if src.Generate {
		g, err := GenerateFrom(app, extras, src.ExtrasFile)
		if err != nil {
			return Desired{}, err
		}
		return g.Desired(), nil
	}
	files, err := LoadDir(src.Dir)
	if err != nil {
		return Desired{}, err
	}
	d := files.Desired(app)
	if err := d.Validate(); err != nil {
		return Desired{}, err
	}
	return d, nil
}

// ValidateOptions choose the app name whose {app_name}-{service} rule each
// file is checked against: AppName when it is set, else the file's metadata,
// else DefaultAppName; when all are empty, names only need the shape
// "<app>-<service>".
type ValidateOptions struct {
	AppName        string
	DefaultAppName string
}

func (o ValidateOptions) appFor(f File) string {
	if o.AppName != "" {
		return o.AppName
	}
	if name := f.AppName(); name != "" {
		return name
	}
	return o.DefaultAppName
}

// FilesError lists the files ValidateFiles found not valid, in the order
// they were given.
type FilesError struct {
	Files []*FileError
	// Total is how many files were checked.
	Total int
}

func (e *FilesError) Error() string {
	msg := fmt.Sprintf("%d of %d MarchProxy files are not valid", len(e.Files), e.Total)
	for i, fe := range e.Files {
		if i == 0 {
			msg += ": "
		} else {
			msg += "; "
		}
		msg += fe.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalid) true when a file breaks the rules.
func (e *FilesError) Is(target error) bool {
	return target == ErrInvalid && slices.ContainsFunc(e.Files, func(fe *FileError) bool { return errors.Is(fe, ErrInvalid) })
}

// ValidateFiles checks files against the rules and against each other, and
// returns nil or a *FilesError naming every file that is not valid with all
// of its problems. A file with services is checked with Validate. A file
// with mappings only (mappings.json) has its service references resolved
// against the services of all the files given or, when none has services,
// against the services.json or import-config.json beside it; with neither,
// its FileError matches ErrNoSiblingServices.
func ValidateFiles(opts ValidateOptions, files ...File) error {
	fe := &FilesError{Total: len(files)}
	for _, err := range CheckFiles(opts, files...) {
		if err != nil {
			fe.Files = append(fe.Files, err.(*FileError))
		}
	}
	if len(fe.Files) == 0 {
		return nil
	}
	return fe
}

// CheckFiles is ValidateFiles file by file, for callers that report every
// file: errs[i] is nil when files[i] is valid, else a *FileError.
func CheckFiles(opts ValidateOptions, files ...File) []error {
	var known []string
	for _, f := range files {
		for _, s := range f.Services {
			known = append(known, s.Name)
		}
	}
	errs := make([]error, len(files))
	for i, f := range files {
		app := opts.appFor(f)
		var err error
		switch {
		case f.HasServices:
			err = Validate(app, f.Services, f.Mappings)
		case f.HasMappings:
			names := known
			if len(names) == 0 {
				names, err = siblingServices(f.Path)
			}
			if err == nil {
				err = ValidateMappings(app, names, f.Mappings)
			}
		}
		if err != nil {
			errs[i] = &FileError{Path: f.Path, Err: err}
		}
	}
	return errs
}

// siblingServices finds the services a lone mappings file refers to in the
// services.json or import-config.json beside it.
func siblingServices(mappingsPath string) ([]string, error) {
	dir := filepath.Dir(mappingsPath)
	for _, name := range []string{ServicesFileName, ImportFileName} {
		f, err := readImport(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		names := make([]string, len(f.Services))
		for i, s := range f.Services {
			names[i] = s.Name
		}
		return names, nil
	}
	return nil, ErrNoSiblingServices
}
