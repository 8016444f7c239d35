package webhook

import "net/http"

// RequestHeaders returns the headers that an attempt of j sends, as
// "Name: value" lines in the order the request sets them. They are the
// defaults (Content-Type and User-Agent) that no job header replaces,
// webhook-id, the job's headers, and the signature headers when j is
// signed. It reads no secret: a secret header shows its reference, as
// MaskHeaders does, and the signature headers name the signing secret.
// Dry runs use it to show a job that is not sent.
func (d *Dispatcher) RequestHeaders(j Job) []string {
	custom := make(map[string]bool, len(j.Headers))
	for _, h := range j.Headers {
		custom[http.CanonicalHeaderKey(h.Name)] = true
	}
	var out []string
	for _, h := range d.defaultHeaders() {
		if !custom[h.name] {
			out = append(out, h.name+": "+h.value)
		}
	}
	// Enqueue rejects job headers named like the Standard Webhooks ones.
	out = append(out, HeaderID+": "+j.ID)
	out = append(out, MaskHeaders(j.Headers)...)
	if j.Signing != nil {
		out = append(out,
			HeaderTimestamp+": [time of the attempt]",
			HeaderSignature+": [signed with secret "+j.Signing.Secret.String()+"]")
	}
	return out
}
