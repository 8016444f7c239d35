package triggers

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendPlainJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain values keep their text", `{"a": 12.50, "b": -0.0, "c": 1E+3, "d": "x\u00e9", "e": [true, false, null], "f": {}}`,
			`{"a":12.50,"b":-0.0,"c":1E+3,"d":"xé","e":[true,false,null],"f":{}}`},
		{"object id", `{"_id": {"$oid": "65a1f0c2e4b0a1b2c3d4e5f1"}}`, `{"_id":"65a1f0c2e4b0a1b2c3d4e5f1"}`},
		{"int32", `{"n": {"$numberInt": "-42"}}`, `{"n":-42}`},
		{"int64 that a double holds", `{"n": {"$numberLong": "1004"}}`, `{"n":1004}`},
		{"largest safe int64", `{"n": {"$numberLong": "9007199254740991"}, "m": {"$numberLong": "-9007199254740991"}}`,
			`{"n":9007199254740991,"m":-9007199254740991}`},
		{"int64 beyond a double", `{"n": {"$numberLong": "9007199254740993"}, "m": {"$numberLong": "-9223372036854775808"}}`,
			`{"n":"9007199254740993","m":"-9223372036854775808"}`},
		{"plain large integer keeps its text", `{"n": 12345678901234567890123}`, `{"n":12345678901234567890123}`},
		{"double", `{"a": {"$numberDouble": "1.5"}, "b": {"$numberDouble": "-1.0E+10"}}`, `{"a":1.5,"b":-1.0E+10}`},
		{"non-finite double", `{"a": {"$numberDouble": "Infinity"}, "b": {"$numberDouble": "-Infinity"}, "c": {"$numberDouble": "NaN"}}`,
			`{"a":"Infinity","b":"-Infinity","c":"NaN"}`},
		{"decimal that a double holds", `{"a": {"$numberDecimal": "12.50"}, "b": {"$numberDecimal": "0"}, "c": {"$numberDecimal": "-1.5E+3"}, "d": {"$numberDecimal": "123456789012345"}}`,
			`{"a":12.50,"b":0,"c":-1.5E+3,"d":123456789012345}`},
		{"decimal beyond a double", `{"a": {"$numberDecimal": "1234567890123456"}, "b": {"$numberDecimal": "0.1234567890123456789"}, "c": {"$numberDecimal": "1E+6144"}, "d": {"$numberDecimal": "1E-400"}}`,
			`{"a":"1234567890123456","b":"0.1234567890123456789","c":"1E+6144","d":"1E-400"}`},
		{"non-finite decimal", `{"a": {"$numberDecimal": "NaN"}, "b": {"$numberDecimal": "-Infinity"}}`, `{"a":"NaN","b":"-Infinity"}`},
		{"legacy date", `{"d": {"$date": 1558965508000}}`, `{"d":"2019-05-27T13:58:28.000Z"}`},
		{"date before 1970", `{"d": {"$date": -86400001}}`, `{"d":"1969-12-30T23:59:59.999Z"}`},
		{"canonical date", `{"d": {"$date": {"$numberLong": "1558965508123"}}}`, `{"d":"2019-05-27T13:58:28.123Z"}`},
		{"relaxed date", `{"d": {"$date": "2019-05-27T15:58:28.1+02:00"}}`, `{"d":"2019-05-27T13:58:28.100Z"}`},
		{"date beyond year 9999", `{"d": {"$date": {"$numberLong": "253402300800000"}}, "e": {"$date": {"$numberLong": "-9223372036854775808"}}}`,
			`{"d":253402300800000,"e":"-9223372036854775808"}`},
		{"legacy binary", `{"b": {"$binary": "a2Fma2E=", "$type": "00"}}`, `{"b":"a2Fma2E="}`},
		{"binary", `{"b": {"$binary": {"base64": "a2Fma2E=", "subType": "80"}}}`, `{"b":"a2Fma2E="}`},
		{"uuid binary", `{"u": {"$binary": {"base64": "EjRWeJASNFZ4kBI0VniQEg==", "subType": "04"}}, "v": {"$type": "4", "$binary": "EjRWeJASNFZ4kBI0VniQEg=="}}`,
			`{"u":"12345678-9012-3456-7890-123456789012","v":"12345678-9012-3456-7890-123456789012"}`},
		{"uuid", `{"u": {"$uuid": "12345678-9012-3456-7890-123456789ABC"}}`, `{"u":"12345678-9012-3456-7890-123456789abc"}`},
		{"timestamp", `{"t": {"$timestamp": {"t": 1565545664, "i": 1}}}`, `{"t":{"t":1565545664,"i":1}}`},
		{"regular expressions", `{"a": {"$regularExpression": {"pattern": "^a.*", "options": "i"}}, "b": {"$regex": "x", "$options": ""}}`,
			`{"a":{"pattern":"^a.*","options":"i"},"b":{"pattern":"x","options":""}}`},
		{"symbol, code and undefined", `{"s": {"$symbol": "sym"}, "c": {"$code": "f()"}, "w": {"$code": "g(x)", "$scope": {"x": {"$numberLong": "1"}}}, "u": {"$undefined": true}}`,
			`{"s":"sym","c":"f()","w":{"code":"g(x)","scope":{"x":1}},"u":null}`},
		{"objects that are no wrapper stay", `{"k": {"$minKey": 1}, "r": {"$ref": "users", "$id": {"$oid": "65a1f0c2e4b0a1b2c3d4e5f1"}}, "x": {"$oid": "65a1f0c2e4b0a1b2c3d4e5f1", "y": 1}}`,
			`{"k":{"$minKey":1},"r":{"$ref":"users","$id":"65a1f0c2e4b0a1b2c3d4e5f1"},"x":{"$oid":"65a1f0c2e4b0a1b2c3d4e5f1","y":1}}`},
		{"nested in arrays", `{"items": [{"qty": {"$numberLong": "2"}, "tags": [{"$oid": "65a1f0c2e4b0a1b2c3d4e5f1"}]}]}`,
			`{"items":[{"qty":2,"tags":["65a1f0c2e4b0a1b2c3d4e5f1"]}]}`},
		{"key escaping", `{"a\"b\\c\u0001": 1, "<tag>": 2}`, `{"a\"b\\c\u0001":1,"<tag>":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendPlainJSON(nil, []byte(tt.in))
			if err != nil {
				t.Fatalf("appendPlainJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestAppendPlainJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"syntax", `{"a": 1,}`, "invalid JSON at byte 9 of 9"},
		{"cut short", `{"a": [1, 2`, "invalid JSON"},
		{"not an object", `[1]`, "not a JSON object"},
		{"too deep", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "invalid JSON"},
		{"short object id", `{"_id": {"$oid": "65a1"}}`, `field "_id": $oid must be 24 hex digits, got "65a1"`},
		{"object id not a string", `{"_id": {"$oid": 5}}`, `field "_id": $oid must be a string`},
		{"int64 out of range", `{"a": {"b": {"$numberLong": "9223372036854775808"}}}`, `field "a.b": $numberLong must be a 64-bit integer`},
		{"int32 out of range", `{"n": {"$numberInt": "2147483648"}}`, `field "n": $numberInt must be a 32-bit integer`},
		{"bad double", `{"n": {"$numberDouble": "1."}}`, `field "n": $numberDouble must be a finite number`},
		{"bad decimal", `{"n": {"$numberDecimal": "12,50"}}`, `field "n": $numberDecimal must be a decimal number`},
		{"fractional date", `{"items": [{"d": {"$date": 1.5}}]}`, `field "items.0.d": $date must be whole milliseconds`},
		{"bad date string", `{"d": {"$date": "yesterday"}}`, `field "d": $date must be an RFC 3339 time, got "yesterday"`},
		{"date of another type", `{"d": {"$date": true}}`, `field "d": $date must be milliseconds`},
		{"bad base64", `{"b": {"$binary": "!!", "$type": "00"}}`, `field "b": $binary is not base64`},
		{"bad subtype", `{"b": {"$binary": "a2Fma2E=", "$type": "100"}}`, `field "b": binary subtype must be one or two hex digits`},
		{"bad uuid", `{"u": {"$uuid": "1234"}}`, `field "u": $uuid must be a UUID`},
		{"bad timestamp", `{"t": {"$timestamp": {"t": -1, "i": 1}}}`, `field "t": $timestamp.t must be a 32-bit unsigned integer`},
		{"bad scope", `{"c": {"$code": "f()", "$scope": {"x": {"$oid": "1"}}}}`, `field "c.$scope.x": $oid must be 24 hex digits`},
		{"undefined false", `{"u": {"$undefined": false}}`, `field "u": $undefined must be true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := appendPlainJSON(nil, []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func BenchmarkAppendPlainJSON(b *testing.B) {
	doc := []byte(`{"_id": {"$oid": "65a1f0c2e4b0a1b2c3d4e5f3"}, "customer": "Edward Walker", "status": "placed", "items": [{"sku": "hammer-3", "qty": {"$numberLong": "4"}, "price": {"$numberDecimal": "7.25"}}], "total": {"$numberDecimal": "29.00"}, "placedAt": {"$date": 1717243200000}}`)
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = appendPlainJSON(dst[:0], doc); err != nil {
			b.Fatal(err)
		}
	}
}
