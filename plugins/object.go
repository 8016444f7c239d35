package plugins

// Object is a JSON object whose top-level members are indexed on first
// lookup, so that each later lookup compares keys without rescanning the
// text. Values alias the source bytes: an Object from the callback
// arguments is valid only during that callback.
//
// Lookups treat a missing object (the value was absent, null or not an
// object) as an object with no members, so every getter returns its
// not-found result instead of failing. An Object is not safe for concurrent
// use because the first lookup builds the index.
type Object struct {
	raw     []byte // the object text, or nil when the value is not an object
	fields  []member
	indexed bool
}

// member locates one key and its value inside Object.raw.
type member struct {
	keyStart, keyEnd int // the key literal, quotes included
	valStart, valEnd int
	escaped          bool // the key must be decoded before comparing
}

// NewObject returns an Object over v. When v is not a JSON object, the
// result has no members and IsObject returns false.
func NewObject(v Value) *Object {
	o := &Object{}
	o.reset(v)
	return o
}

// reset points o at v and drops the index while keeping its storage, so an
// Object reused across firings does not allocate once its index has grown.
func (o *Object) reset(v Value) {
	o.raw = nil
	if v.Kind() == KindObject {
		o.raw = v.raw
	}
	o.fields = o.fields[:0]
	o.indexed = false
}

// IsObject reports whether o was built from a JSON object. It is false for
// a record that is absent or null, such as newRecord on a delete event.
func (o *Object) IsObject() bool { return o.raw != nil }

// Value returns the whole object as a Value, undefined when o is not an
// object.
func (o *Object) Value() Value { return Value{raw: o.raw} }

// Len returns the number of members, counting duplicate keys each time.
func (o *Object) Len() int {
	o.index()
	return len(o.fields)
}

func (o *Object) index() {
	if o.indexed {
		return
	}
	o.indexed = true
	if o.raw == nil {
		return
	}

	raw := o.raw
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] == '"' {
		keyEnd, escaped, _ := skipString(raw, i)
		m := member{keyStart: i, keyEnd: keyEnd, escaped: escaped}
		i = skipSpace(raw, keyEnd)
		i = skipSpace(raw, i+1) // past ':'
		m.valStart = i
		m.valEnd = skipKnownValid(raw, i)
		o.fields = append(o.fields, m)
		i = skipSpace(raw, m.valEnd)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
}

// indexValidating validates data as one JSON object starting at data[start]
// with only whitespace around it, and indexes its members in the same pass.
// This saves the firing path a second scan of the arguments.
func (o *Object) indexValidating(data []byte, start int) error {
	o.fields = o.fields[:0]
	o.indexed = true

	i := skipSpace(data, start+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return syntaxError(data, i, "a string key")
			}
			keyEnd, escaped, err := skipString(data, i)
			if err != nil {
				return err
			}
			m := member{keyStart: i - start, keyEnd: keyEnd - start, escaped: escaped}

			i = skipSpace(data, keyEnd)
			if i >= len(data) || data[i] != ':' {
				return syntaxError(data, i, "':'")
			}
			i = skipSpace(data, i+1)
			valEnd, err := skipValue(data, i, 1)
			if err != nil {
				return err
			}
			m.valStart, m.valEnd = i-start, valEnd-start
			o.fields = append(o.fields, m)

			i = skipSpace(data, valEnd)
			if i < len(data) && data[i] == ',' {
				i = skipSpace(data, i+1)
				continue
			}
			if i < len(data) && data[i] == '}' {
				i++
				break
			}
			return syntaxError(data, i, "',' or '}'")
		}
	}

	end := i
	if i = skipSpace(data, i); i != len(data) {
		return syntaxError(data, i, "end of input")
	}
	o.raw = data[start:end:end]
	return nil
}

// Get returns the member key, or undefined when there is none. With
// duplicate keys the last one wins, as in JSON.parse and encoding/json.
func (o *Object) Get(key string) Value {
	o.index()
	for i := len(o.fields) - 1; i >= 0; i-- {
		m := &o.fields[i]
		if keyEquals(o.raw[m.keyStart:m.keyEnd], m.escaped, key) {
			return Value{raw: o.raw[m.valStart:m.valEnd:m.valEnd]}
		}
	}
	return Value{}
}

// Has reports whether the member key is present, even if it is null.
func (o *Object) Has(key string) bool { return o.Get(key).Exists() }

// IsNull reports whether the member key is present and null.
func (o *Object) IsNull(key string) bool { return o.Get(key).IsNull() }

// Raw returns the exact JSON text of the member key, nil when absent.
func (o *Object) Raw(key string) []byte { return o.Get(key).raw }

// String returns the decoded string member key and true, or "" and false
// when it is absent or not a string. See Value.Text.
func (o *Object) String(key string) (string, bool) { return o.Get(key).Text() }

// Float returns the number member key and true, or 0 and false when it is
// absent or not a number. See Value.Float.
func (o *Object) Float(key string) (float64, bool) { return o.Get(key).Float() }

// Int returns the integer member key and true. See Value.Int.
func (o *Object) Int(key string) (int64, bool) { return o.Get(key).Int() }

// Bool returns the boolean member key and true, or false and false when it
// is absent or not a boolean.
func (o *Object) Bool(key string) (bool, bool) { return o.Get(key).Bool() }

// NumberOr returns JavaScript's Number(o[key] ?? def): def when the member
// is absent or null, its Number conversion otherwise. See Value.NumberOr.
func (o *Object) NumberOr(key string, def float64) float64 {
	return o.Get(key).NumberOr(def)
}

// Keys appends the decoded member keys to dst in document order and
// returns it. Duplicate keys appear once per occurrence.
func (o *Object) Keys(dst []string) []string {
	o.index()
	for _, m := range o.fields {
		k, _ := Value{raw: o.raw[m.keyStart:m.keyEnd]}.Text()
		dst = append(dst, k)
	}
	return dst
}
