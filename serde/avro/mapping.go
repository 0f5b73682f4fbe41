package avro

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// schema is a parsed Avro schema tree with its named types.
type schema struct {
	root  any
	named map[string]any // full name → definition
}

func parseSchema(text string) (*schema, error) {
	var root any
	if err := json.Unmarshal([]byte(text), &root); err != nil {
		return nil, fmt.Errorf("avro: schema is not JSON: %w", err)
	}
	s := &schema{root: root, named: map[string]any{}}
	s.collect(root, "")
	return s, nil
}

func (s *schema) collect(n any, ns string) {
	switch t := n.(type) {
	case []any:
		for _, b := range t {
			s.collect(b, ns)
		}
	case map[string]any:
		typ, _ := t["type"].(string)
		if name, ok := t["name"].(string); ok && (typ == "record" || typ == "enum" || typ == "fixed" || typ == "error") {
			if nsp, ok := t["namespace"].(string); ok {
				ns = nsp
			}
			full := name
			if !strings.Contains(name, ".") && ns != "" {
				full = ns + "." + name
			}
			s.named[full] = t
			s.named[name] = t
		}
		if fields, ok := t["fields"].([]any); ok {
			for _, f := range fields {
				if fm, ok := f.(map[string]any); ok {
					s.collect(fm["type"], ns)
				}
			}
		}
		for _, k := range []string{"items", "values"} {
			if v, ok := t[k]; ok {
				s.collect(v, ns)
			}
		}
		if _, ok := t["type"].(string); !ok {
			s.collect(t["type"], ns)
		}
	}
}

// resolve follows named references and {"type": …} wrappers of primitives.
func (s *schema) resolve(n any) any {
	for {
		switch t := n.(type) {
		case string:
			if d, ok := s.named[t]; ok {
				return d
			}
			return t
		case map[string]any:
			if typ, ok := t["type"].(string); ok {
				switch typ {
				case "record", "error", "enum", "fixed", "array", "map":
					return t
				}
				if _, logical := t["logicalType"]; logical {
					return t
				}
				n = typ
				continue
			}
			if inner, ok := t["type"]; ok {
				n = inner
				continue
			}
			return t
		default:
			return n
		}
	}
}

// branchName is the name goavro uses for a union branch.
func (s *schema) branchName(n any) string {
	switch t := n.(type) {
	case string:
		return t
	case map[string]any:
		typ, _ := t["type"].(string)
		switch typ {
		case "record", "error", "enum", "fixed":
			name, _ := t["name"].(string)
			if ns, ok := t["namespace"].(string); ok && !strings.Contains(name, ".") {
				return ns + "." + name
			}
			return name
		case "array", "map":
			return typ
		}
		if typ != "" {
			return typ
		}
	}
	return ""
}

// fieldsOf maps Avro field names to struct field indexes, once per type.
var fieldCache sync.Map // reflect.Type → map[string][]int

func fieldsOf(t reflect.Type) map[string][]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag := f.Tag.Get("avro"); tag != "" {
			if tag == "-" {
				continue
			}
			name = strings.Split(tag, ",")[0]
		} else if tag := f.Tag.Get("json"); tag != "" && tag != "-" {
			name = strings.Split(tag, ",")[0]
		}
		m[name] = f.Index
	}
	fieldCache.Store(t, m)
	return m
}

var timeType = reflect.TypeOf(time.Time{})

// toNative turns a Go value into goavro's native form for schema node n.
func (s *schema) toNative(n any, v reflect.Value) (any, error) {
	n = s.resolve(n)
	if u, ok := n.([]any); ok {
		return s.unionToNative(u, v)
	}
	for v.Kind() == reflect.Interface || (v.Kind() == reflect.Pointer && !v.IsNil()) {
		v = v.Elem()
	}
	switch t := n.(type) {
	case string:
		switch t {
		case "null":
			return nil, nil
		case "boolean":
			return v.Bool(), nil
		case "int":
			return int32(v.Int()), nil
		case "long":
			return v.Int(), nil
		case "float":
			return float32(v.Float()), nil
		case "double":
			return v.Float(), nil
		case "bytes":
			return v.Bytes(), nil
		case "string":
			return v.String(), nil
		}
		return nil, fmt.Errorf("avro: unknown type %q", t)
	case map[string]any:
		if _, logical := t["logicalType"]; logical && v.Type() == timeType {
			return v.Interface(), nil
		}
		switch t["type"] {
		case "record", "error":
			if v.Kind() == reflect.Map {
				return v.Interface(), nil
			}
			if v.Kind() != reflect.Struct {
				return nil, fmt.Errorf("avro: record %v needs a struct, got %s", t["name"], v.Kind())
			}
			idx := fieldsOf(v.Type())
			out := map[string]any{}
			fields, _ := t["fields"].([]any)
			for _, f := range fields {
				fm := f.(map[string]any)
				name, _ := fm["name"].(string)
				i, ok := idx[name]
				if !ok {
					if def, has := fm["default"]; has {
						out[name] = def
						continue
					}
					return nil, fmt.Errorf("avro: struct %s has no field for %q and the schema gives no default", v.Type(), name)
				}
				nv, err := s.toNative(fm["type"], v.FieldByIndex(i))
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", name, err)
				}
				out[name] = nv
			}
			return out, nil
		case "enum":
			return v.String(), nil
		case "fixed":
			return v.Bytes(), nil
		case "array":
			out := make([]any, v.Len())
			for i := range out {
				x, err := s.toNative(t["items"], v.Index(i))
				if err != nil {
					return nil, err
				}
				out[i] = x
			}
			return out, nil
		case "map":
			out := map[string]any{}
			it := v.MapRange()
			for it.Next() {
				x, err := s.toNative(t["values"], it.Value())
				if err != nil {
					return nil, err
				}
				out[it.Key().String()] = x
			}
			return out, nil
		}
		if typ, ok := t["type"].(string); ok {
			return s.toNative(typ, v)
		}
	}
	return nil, fmt.Errorf("avro: unsupported schema node %v", n)
}

func (s *schema) unionToNative(u []any, v reflect.Value) (any, error) {
	isNil := !v.IsValid() || ((v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface || v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.IsNil())
	for _, b := range u {
		if b == "null" {
			if isNil {
				return nil, nil
			}
			continue
		}
		if isNil {
			continue
		}
		x, err := s.toNative(b, v)
		if err != nil {
			continue // try the next branch
		}
		return map[string]any{s.branchName(s.resolve(b)): x}, nil
	}
	return nil, fmt.Errorf("avro: no union branch of %v fits a %s", u, v.Kind())
}

// fromNative stores goavro's native value for schema node n into v.
func (s *schema) fromNative(n any, native any, v reflect.Value) error {
	n = s.resolve(n)
	if u, ok := n.([]any); ok {
		if native == nil {
			v.SetZero()
			return nil
		}
		m, ok := native.(map[string]any)
		if !ok || len(m) != 1 {
			return fmt.Errorf("avro: union value %T", native)
		}
		for name, x := range m {
			for _, b := range u {
				if s.branchName(s.resolve(b)) == name {
					return s.fromNative(b, x, v)
				}
			}
			return fmt.Errorf("avro: union branch %q not in the schema", name)
		}
	}
	if v.Kind() == reflect.Pointer {
		if native == nil {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Interface {
		v.Set(reflect.ValueOf(native))
		return nil
	}
	set := func(x any) error {
		xv := reflect.ValueOf(x)
		if !xv.IsValid() {
			v.SetZero()
			return nil
		}
		if xv.Type() == v.Type() || (kindClass(xv.Kind()) != 0 && kindClass(xv.Kind()) == kindClass(v.Kind())) {
			v.Set(xv.Convert(v.Type()))
			return nil
		}
		return fmt.Errorf("avro: cannot store %T in %s", x, v.Type())
	}
	switch t := n.(type) {
	case string:
		return set(native)
	case map[string]any:
		switch t["type"] {
		case "record", "error":
			m, ok := native.(map[string]any)
			if !ok {
				return fmt.Errorf("avro: record value %T", native)
			}
			if v.Kind() == reflect.Map {
				v.Set(reflect.ValueOf(m))
				return nil
			}
			if v.Kind() != reflect.Struct {
				return fmt.Errorf("avro: cannot store a record in %s", v.Type())
			}
			idx := fieldsOf(v.Type())
			fields, _ := t["fields"].([]any)
			for _, f := range fields {
				fm := f.(map[string]any)
				name, _ := fm["name"].(string)
				i, ok := idx[name]
				if !ok {
					continue // a writer field the reader does not know
				}
				if err := s.fromNative(fm["type"], m[name], v.FieldByIndex(i)); err != nil {
					return fmt.Errorf("field %q: %w", name, err)
				}
			}
			return nil
		case "array":
			xs, ok := native.([]any)
			if !ok {
				return fmt.Errorf("avro: array value %T", native)
			}
			sl := reflect.MakeSlice(v.Type(), len(xs), len(xs))
			for i, x := range xs {
				if err := s.fromNative(t["items"], x, sl.Index(i)); err != nil {
					return err
				}
			}
			v.Set(sl)
			return nil
		case "map":
			xm, ok := native.(map[string]any)
			if !ok {
				return fmt.Errorf("avro: map value %T", native)
			}
			mv := reflect.MakeMapWithSize(v.Type(), len(xm))
			for k, x := range xm {
				ev := reflect.New(v.Type().Elem()).Elem()
				if err := s.fromNative(t["values"], x, ev); err != nil {
					return err
				}
				mv.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
			}
			v.Set(mv)
			return nil
		}
		return set(native)
	}
	return fmt.Errorf("avro: unsupported schema node %v", n)
}

// kindClass groups kinds that convert into each other without surprise:
// 1 numbers, 2 strings, 3 booleans; other kinds must match exactly.
func kindClass(k reflect.Kind) int {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return 1
	case reflect.String:
		return 2
	case reflect.Bool:
		return 3
	}
	return 0
}
