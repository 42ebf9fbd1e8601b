package session

import (
	"context"

	"github.com/vmware/govmomi/vim25/soap"
)

// ServiceRoundTripper is a round tripper for another SOAP endpoint of the
// agent (vSAN health's /vsanHealth, with its namespace): it shares the
// SOAP session's cookie, gets the agent's per-call timeout and re-login,
// and its calls count in Stats like the vim25 ones. Make one per use: a
// re-login gives the session a new cookie that an older one lacks.
func (s *Session) ServiceRoundTripper(ctx context.Context, path, namespace string) (soap.RoundTripper, error) {
	vc, err := s.Client(ctx)
	if err != nil {
		return nil, err
	}
	sc := vc.Client.NewServiceClient(path, namespace)
	return &sessionRT{s: s, next: &countingRT{next: sc, c: s.stats}}, nil
}
