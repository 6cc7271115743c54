// Package test provides the test execution module: test.ping, test.echo,
// test.version, test.true and test.false, for checking that minions
// answer and for conditions (onlyif/unless) in tests.
package test

import (
	"context"
	"fmt"
	"strings"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/version"
)

type noArgs struct{}

type echoArgs struct {
	Text string `arg:"text,required"`
}

func init() {
	modules.Register("test.ping", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "Return True: the minion is up and answering.",
		Call: func(context.Context, *modules.Runtime, *noArgs) (any, error) {
			return true, nil
		},
	})
	modules.Register("test.echo", modules.Func[echoArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return the text given.",
		Params:   []string{"text"},
		Call: func(_ context.Context, _ *modules.Runtime, a *echoArgs) (any, error) {
			return a.Text, nil
		},
	})
	for fun, v := range map[string]bool{"test.true": true, "test.false": false} {
		modules.Register(fun, modules.Func[noArgs]{
			ReadOnly: true,
			Pure:     true,
			Doc:      fmt.Sprintf("Return %s, as Salt's %s does (for onlyif/unless in tests).", strings.ToUpper(fun[5:6])+fun[6:], fun),
			Call: func(context.Context, *modules.Runtime, *noArgs) (any, error) {
				return v, nil
			},
		})
	}
	modules.Register("test.version", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "Return the brine version of the minion.",
		Call: func(context.Context, *modules.Runtime, *noArgs) (any, error) {
			return version.Version, nil
		},
	})
}
