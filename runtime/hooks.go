package runtime

import (
	"context"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/triggers"
)

// HookPath returns the path at which a Server serves the incoming webhook
// trigger t of executor name. For a trigger with a token it is
// /v1/hooks/NAME/TOKEN, where a request puts the value of the token's
// secret in place of TOKEN. For a trigger without one it is /v1/hooks/NAME,
// which a Server serves only with ServerConfig.OpenHooks. It returns "" for
// other trigger kinds.
func HookPath(name string, t plugins.Trigger) string {
	switch {
	case t.Kind != plugins.TriggerIncomingWebhook:
		return ""
	case t.Token == nil:
		return "/v1/hooks/" + name
	default:
		return "/v1/hooks/" + name + "/TOKEN"
	}
}

// hookAllowed reports whether a request for the incoming webhook trigger
// of exec, which carries token in its path ("" on the path without one),
// may fire it. A trigger with a token needs the value of its secret; one
// without is open only with ServerConfig.OpenHooks, on the path without a
// token.
func (s *Server) hookAllowed(ctx context.Context, exec *Executor, token string) bool {
	ref := exec.Trigger.Token
	if ref == nil {
		return s.cfg.OpenHooks && token == ""
	}
	if token == "" {
		return false
	}
	want, err := s.cfg.Secrets.Resolve(ctx, *ref, actorExecutor+exec.Name)
	if err != nil {
		s.log.Error("resolve webhook token failed", "executor", exec.Name, "vault", ref.Vault, "key", ref.Key, "error", err)
		return false
	}
	defer clear(want)
	return triggers.TokenEqual(token, string(want))
}
