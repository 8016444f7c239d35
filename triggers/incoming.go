package triggers

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxBodyBytes is the body limit of AppendWebhookArgs when the
// caller passes 0: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// AppendWebhookArgs reads r and appends the callback arguments of an
// incoming webhook trigger to dst: body, headers, method, rawBody and env,
// in that order. It consumes r.Body but does not close it.
//
//   - body is the parsed JSON for a JSON content type, for a missing one,
//     and for any other type whose body is valid JSON. For
//     application/x-www-form-urlencoded and multipart/form-data it is an
//     object of the form fields: a field sent once is a string, a repeated
//     field an array of strings. A file part becomes
//     {"filename", "contentType", "size"} without its content, which stays
//     in rawBody. An empty body, or one that is not JSON under a non-JSON
//     type, is null.
//   - headers maps each lowercased header name, plus "host", to its values
//     joined with ", ".
//   - rawBody is the body as a string; bytes that are not valid UTF-8
//     become U+FFFD.
//   - env is copied as given; nil or empty means {}.
//
// maxBodyBytes limits the body; 0 or less means DefaultMaxBodyBytes.
// Errors wrap ErrMethodNotAllowed for methods other than POST, GET, PUT
// and DELETE, ErrBodyTooLarge above the limit, and ErrInvalidBody for a
// body that does not match its JSON or form content type.
func AppendWebhookArgs(dst []byte, r *http.Request, env json.RawMessage, maxBodyBytes int64) ([]byte, error) {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete:
	default:
		return dst, fmt.Errorf("read webhook request: %w: %s: use POST, GET, PUT or DELETE", ErrMethodNotAllowed, r.Method)
	}
	if maxBodyBytes <= 0 {
		maxBodyBytes = DefaultMaxBodyBytes
	}

	raw, err := readBody(r, maxBodyBytes)
	if err != nil {
		return dst, err
	}
	body, err := webhookBody(r.Header.Get("Content-Type"), raw)
	if err != nil {
		return dst, fmt.Errorf("read webhook request: %w", err)
	}

	dst = append(dst, `{"body":`...)
	dst = append(dst, body...)
	dst = append(dst, `,"headers":`...)
	dst = appendHeaders(dst, r)
	dst = append(dst, `,"method":`...)
	dst = appendString(dst, r.Method)
	dst = append(dst, `,"rawBody":`...)
	dst = appendString(dst, string(raw))
	dst = append(dst, `,"env":`...)
	dst = appendRaw(dst, env, "{}")
	return append(dst, '}'), nil
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("read webhook request: %w: %d bytes declared, limit %d bytes", ErrBodyTooLarge, r.ContentLength, limit)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read webhook request body: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("read webhook request: %w: more than the limit of %d bytes", ErrBodyTooLarge, limit)
	}
	return raw, nil
}

// webhookBody returns the JSON text of the body argument.
func webhookBody(contentType string, raw []byte) ([]byte, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mediaType, err = "", nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: content type %q: %v", ErrInvalidBody, contentType, err)
	}

	switch {
	case mediaType == "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(raw))
		if err != nil {
			// The parser's message quotes body bytes, which may be
			// sensitive, so only the kind of failure is reported.
			return nil, fmt.Errorf("%w: form body is not valid application/x-www-form-urlencoded: check its percent escapes", ErrInvalidBody)
		}
		fields := make(map[string][]formValue, len(values))
		for k, vs := range values {
			for _, v := range vs {
				fields[k] = append(fields[k], formValue{text: v})
			}
		}
		return appendForm(nil, fields), nil

	case mediaType == "multipart/form-data":
		fields, err := multipartFields(raw, params["boundary"])
		if err != nil {
			return nil, err
		}
		return appendForm(nil, fields), nil
	}

	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return []byte("null"), nil
	}
	if json.Valid(trimmed) {
		return trimmed, nil
	}
	if mediaType == "" || !isJSONMediaType(mediaType) {
		return []byte("null"), nil
	}
	return nil, fmt.Errorf("%w: content type %s but the body is not valid JSON", ErrInvalidBody, mediaType)
}

func isJSONMediaType(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// formValue is one value of a form field: text, or a file described by its
// name, type and size.
type formValue struct {
	text        string
	file        bool
	filename    string
	contentType string
	size        int64
}

func multipartFields(raw []byte, boundary string) (map[string][]formValue, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart content type has no boundary parameter", ErrInvalidBody)
	}
	// mime/multipart reports a body cut short inside part headers as a
	// plain io.EOF, so a missing closing delimiter is checked here.
	if !bytes.Contains(raw, []byte("--"+boundary+"--")) {
		return nil, fmt.Errorf("%w: multipart body has no closing boundary", ErrInvalidBody)
	}
	fields := make(map[string][]formValue)
	reader := multipart.NewReader(bytes.NewReader(raw), boundary)
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: multipart body: %v", ErrInvalidBody, err)
		}
		content, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("%w: multipart part %q: %v", ErrInvalidBody, part.FormName(), err)
		}
		name := part.FormName()
		if part.FileName() != "" {
			fields[name] = append(fields[name], formValue{
				file:        true,
				filename:    part.FileName(),
				contentType: part.Header.Get("Content-Type"),
				size:        int64(len(content)),
			})
			continue
		}
		fields[name] = append(fields[name], formValue{text: string(content)})
	}
}

func appendForm(dst []byte, fields map[string][]formValue) []byte {
	dst = append(dst, '{')
	for i, name := range slices.Sorted(maps.Keys(fields)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		values := fields[name]
		if len(values) == 1 {
			dst = appendFormValue(dst, values[0])
			continue
		}
		dst = append(dst, '[')
		for j, v := range values {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendFormValue(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendFormValue(dst []byte, v formValue) []byte {
	if !v.file {
		return appendString(dst, v.text)
	}
	dst = append(dst, `{"filename":`...)
	dst = appendString(dst, v.filename)
	dst = append(dst, `,"contentType":`...)
	dst = appendString(dst, v.contentType)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, v.size, 10)
	return append(dst, '}')
}

func appendHeaders(dst []byte, r *http.Request) []byte {
	headers := make(map[string]string, len(r.Header)+1)
	for name, values := range r.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}

	dst = append(dst, '{')
	for i, name := range slices.Sorted(maps.Keys(headers)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		dst = appendString(dst, headers[name])
	}
	return append(dst, '}')
}

// TokenEqual reports whether got equals want, in time that depends on
// neither their contents nor their lengths: both are hashed with SHA-256
// and the digests compared with crypto/subtle. An empty want never
// matches, so an unset token cannot open an endpoint. Safe for concurrent
// use.
func TokenEqual(got, want string) bool {
	if want == "" {
		return false
	}
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
