package states

import "github.com/brinecm/brine/pkg/sls"

// InSaltenv returns env as a state of the environment saltenv sees it:
// when env serves several environments (pkg/sls's Compiler), its view of
// saltenv, whose salt:// URLs read that environment's tree; otherwise (or
// for "") env itself.
func InSaltenv(env Env, saltenv string) Env {
	if m, ok := env.(interface{ InSaltenv(string) *sls.EnvView }); ok && saltenv != "" {
		return m.InSaltenv(saltenv)
	}
	return env
}
