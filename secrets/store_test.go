package secrets

import (
	"context"
	"errors"
	"testing"
)

func TestStoreSecretLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "api-keys")
	mustCreateSecret(t, s, "api-keys", "API_KEY", "first")

	info, err := s.UpdateSecret(ctx, "api-keys", "API_KEY", NewValueString("second"), UpdateOptions{})
	if err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	if info.Version != 2 {
		t.Errorf("version after update = %d, want 2", info.Version)
	}
	if got := mustReveal(t, s, "api-keys", "API_KEY", 0); !got.Equal(NewValueString("second")) {
		t.Errorf("current value differs from the update (len %d)", got.Len())
	}
	if got := mustReveal(t, s, "api-keys", "API_KEY", 1); !got.Equal(NewValueString("first")) {
		t.Errorf("version 1 differs from the first value (len %d)", got.Len())
	}

	list, err := s.ListSecrets(ctx, "api-keys")
	if err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	if len(list) != 1 || list[0].Name != "API_KEY" || list[0].Version != 2 {
		t.Errorf("ListSecrets = %+v, want one API_KEY at version 2", list)
	}

	if err := s.DeleteSecret(ctx, "api-keys", "API_KEY"); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	_, _, err = s.RevealSecret(ctx, "api-keys", "API_KEY", 0)
	if !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("reveal after delete: got %v, want ErrSecretNotFound", err)
	}
}
