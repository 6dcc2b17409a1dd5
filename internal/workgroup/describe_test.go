package workgroup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmirror/kmirror/internal/testbed"
	"github.com/kmirror/kmirror/internal/workgroup"
)

// A coordinator still loading its groups answers DescribeGroups with a
// retriable error: Describe does not fail for it (hand-back and status
// would refuse or err for a moment's reason) — franz-go's client asks
// again, with its retry backoff. A lasting error that is not retriable is
// returned at once.
func TestDescribeAsksALoadingCoordinatorAgain(t *testing.T) {
	for _, c := range []struct {
		name    string
		code    *kerr.Error
		refuse  int // the DescribeGroups requests answered with code
		wantErr error
	}{
		{"loading", kerr.CoordinatorLoadInProgress, 3, nil},
		{"not authorized", kerr.GroupAuthorizationFailed, 1 << 30, kerr.GroupAuthorizationFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := testbed.NewCluster(t)
			refused := 0
			cl.ControlKey(kmsg.DescribeGroups.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
				cl.KeepControl()
				if refused >= c.refuse {
					return nil, nil, false
				}
				refused++
				dreq := req.(*kmsg.DescribeGroupsRequest)
				resp := dreq.ResponseKind().(*kmsg.DescribeGroupsResponse)
				for _, g := range dreq.Groups {
					rg := kmsg.NewDescribeGroupsResponseGroup()
					rg.Group, rg.ErrorCode = g, c.code.Code
					resp.Groups = append(resp.Groups, rg)
				}
				return resp, nil, true
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			workers, err := workgroup.Describe(ctx, kadm.NewClient(cl.Client(t)), "kmirror.a.b")
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) || len(workers) != 0 {
				t.Errorf("Describe = %v, %v; want no workers and error %v", workers, err, c.wantErr)
			}
			t.Logf("%d DescribeGroups answered %v", refused, c.code)
		})
	}
}
