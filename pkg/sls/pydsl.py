"""brine's pydsl bootstrap: runs one #!pydsl SLS file and prints its states.

brine renders an SLS file whose first line is #!pydsl by running this
module with python3, the SLS source and the render's data (grains, pillar,
opts, saltenv, the names of the execution functions) as JSON on stdin. The
SLS runs with pydsl's API (state, include, extend, __pydsl__, __salt__,
__grains__, __pillar__, __opts__, __env__, __sls__, __file__); what it
declares is printed as JSON on stdout:

  {"states": [[id, line, {module: [function, {arg: value}, ...]}], ...],
   "extend": [[id, line, {...}], ...],
   "include": [[sls, line], ...]}

or {"error": message, "line": line} when the SLS fails. Anything the SLS
prints goes to stderr.
"""

import json
import sys

REQUISITES = (
    "require", "watch", "onchanges", "onfail", "prereq", "listen", "use",
    "require_in", "watch_in", "onchanges_in", "onfail_in", "prereq_in",
    "listen_in", "use_in", "require_any", "watch_any", "onchanges_any",
    "onfail_any", "onfail_all",
)


class PyDslError(Exception):
    """A misuse of the pydsl API, reported at the SLS line that made it."""


def sls_line(filename):
    """The line of the SLS file that is running now."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == filename:
            return frame.f_lineno
        frame = frame.f_back
    return 0


class Sls:
    """What one SLS file declares."""

    def __init__(self, filename):
        self.filename = filename
        self.ids = {}  # id -> IDDecl, in creation order
        self.extends = []
        self.includes = []
        self.ordered = False
        self.last = None  # the last StateDecl given a function while ordered

    def state(self, id_=None):
        if id_ is None:
            raise PyDslError("state() needs an ID in brine: state('my-id')")
        if not isinstance(id_, str):
            id_ = str(id_)
        decl = self.ids.get(id_)
        if decl is None:
            decl = IDDecl(self, id_, sls_line(self.filename))
            self.ids[id_] = decl
        return decl

    def include(self, *names, **kws):
        unknown = set(kws) - {"delayed"}
        if unknown:
            raise PyDslError("include() takes SLS names and delayed=, not %s" % ", ".join(sorted(unknown)))
        line = sls_line(self.filename)
        for n in names:
            if not isinstance(n, str):
                raise PyDslError("include() takes SLS names, not %r" % (n,))
            self.includes.append([n, line])
        if len(names) == 1 or kws.get("delayed"):
            return None
        return [None] * len(names)

    def extend(self, *decls):
        if self.ordered:
            raise PyDslError("extend() must come before __pydsl__.set(ordered=True), as in Salt")
        for d in decls:
            if isinstance(d, (StateDecl, FuncDecl)):
                d = d.iddecl
            if not isinstance(d, IDDecl):
                raise PyDslError("extend() takes state declarations, e.g. extend(state('web').service.watch(file='/etc/web.conf')), not %r" % (d,))
            if self.ids.get(d.id) is d:
                del self.ids[d.id]
            if d not in self.extends:
                self.extends.append(d)

    def set(self, **options):
        for k, v in options.items():
            if k != "ordered":
                raise PyDslError("__pydsl__.set() knows ordered=, not %s" % k)
            self.ordered = bool(v)

    def output(self):
        return {
            "states": [self.entry(d, False) for d in self.ids.values()],
            "extend": [self.entry(d, True) for d in self.extends],
            "include": self.includes,
        }

    @staticmethod
    def entry(decl, extending):
        """[id, line, body] of one declaration; its errors name its line."""
        try:
            body = decl.body(extending)
            json.dumps(body)
        except PyDslError as e:
            e.line = decl.line
            raise
        except (TypeError, ValueError) as e:
            err = PyDslError("state('%s'): an argument is not plain data (strings, numbers, lists, dicts): %s" % (decl.id, e))
            err.line = decl.line
            raise err from None
        return [decl.id, decl.line, body]


class IDDecl:
    """state(id): its modules are its attributes."""

    def __init__(self, sls, id_, line):
        self._sls, self.id, self.line, self._mods = sls, id_, line, {}

    def __getattr__(self, module):
        if module.startswith("_"):
            raise AttributeError(module)
        decl = self._mods.get(module)
        if decl is None:
            decl = self._mods[module] = StateDecl(self, module)
        return decl

    def __call__(self, *args, **kws):
        raise PyDslError("running states while rendering (calling state('%s')()) is not supported by brine" % self.id)

    def body(self, extending):
        out = {}
        for module, decl in self._mods.items():
            if decl.fun is None and not extending:
                raise PyDslError("state('%s').%s has no function: call one, e.g. state('%s').%s.<function>()" % (self.id, module, self.id, module))
            items = [] if decl.fun is None else [decl.fun]
            items += [{k: v} for k, v in decl.args.items()]
            for kind, refs in decl.reqs.items():
                items.append({kind: refs})
            out[module] = items
        return out


class StateDecl:
    """state(id).module: call it with the function, or call the function."""

    def __init__(self, iddecl, module):
        self.iddecl, self.module = iddecl, module
        self.fun, self.args, self.reqs, self._funs = None, {}, {}, {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in REQUISITES:
            return lambda *refs, **kws: self._requisite(name, refs, kws)
        fdecl = self._funs.get(name)
        if fdecl is None:
            fdecl = self._funs[name] = FuncDecl(self, name)
        return fdecl

    def __call__(self, fun, *args, **kws):
        return getattr(self, fun)(*args, **kws)

    def _set(self, fun, args, kws):
        if len(args) > 1:
            raise PyDslError("state('%s').%s.%s() takes the name as its only positional argument" % (self.iddecl.id, self.module, fun))
        if self.fun is not None and self.fun != fun:
            raise PyDslError("state('%s').%s has the function %s already; one ID takes one function per module"
                             % (self.iddecl.id, self.module, self.fun))
        sls = self.iddecl._sls
        if self.fun is None and sls.ordered:
            # __pydsl__.set(ordered=True): each new function declaration
            # requires the one created before it.
            if sls.last is not None:
                self.reqs.setdefault("require", []).append({sls.last.module: sls.last.iddecl.id})
            sls.last = self
        self.fun = fun
        if args:
            self.args["name"] = args[0]
        self.args.update(kws)

    def _requisite(self, kind, refs, kws):
        out = self.reqs.setdefault(kind, [])
        for r in refs:
            if isinstance(r, FuncDecl):
                r = r.sdecl
            if not isinstance(r, StateDecl):
                raise PyDslError("%s() takes state declarations (state('x').pkg) and module='id' arguments, not %r" % (kind, r))
            out.append({r.module: r.iddecl.id})
        for module, target in kws.items():
            for t in target if isinstance(target, (list, tuple)) else [target]:
                out.append({module: t})
        return self


class FuncDecl:
    """state(id).module.function: calling it sets the function and its arguments."""

    def __init__(self, sdecl, fun):
        self.sdecl, self.fun = sdecl, fun

    @property
    def iddecl(self):
        return self.sdecl.iddecl

    def __call__(self, *args, **kws):
        self.sdecl._set(self.fun, args, kws)
        return self

    def __getattr__(self, name):
        if name in REQUISITES:
            def requisite(*refs, **kws):
                self.sdecl._requisite(name, refs, kws)
                return self
            return requisite
        raise AttributeError(name)


class SaltFunctions(dict):
    """__salt__: answers `in` for brine's execution functions and runs the
    ones over the data brine passed in (grains.get, pillar.get, config.get,
    grains.items, pillar.items)."""

    def __init__(self, names, grains, pillar, opts):
        super().__init__()
        data = {
            "grains.get": lambda key, default="", delimiter=":": traverse(grains, key, default, delimiter),
            "pillar.get": lambda key, default="", delimiter=":": traverse(pillar, key, default, delimiter),
            "config.get": lambda key, default="", delimiter=":": config_get(opts, grains, pillar, key, default, delimiter),
            "grains.items": lambda: grains,
            "pillar.items": lambda: pillar,
        }
        for n in names:
            self[n] = data.get(n) or unavailable(n)
        self.update(data)


def unavailable(name):
    def call(*args, **kws):
        raise PyDslError("__salt__['%s'] cannot run in a pydsl SLS in brine (it sees grains, pillar and opts only): "
                         "call it from a Jinja SLS, or pass its result through pillar" % name)
    return call


def traverse(data, key, default, delimiter):
    cur = data
    for part in str(key).split(delimiter):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


def config_get(opts, grains, pillar, key, default, delimiter):
    missing = object()
    for source in (opts, grains, pillar):
        v = traverse(source, key, missing, delimiter)
        if v is not missing:
            return v
    return default


def main():
    job = json.load(sys.stdin)
    filename = job["file"]
    sls = Sls(filename)
    env = {
        "__name__": job["sls"],
        "__pydsl__": sls,
        "state": sls.state,
        "include": sls.include,
        "extend": sls.extend,
        "__salt__": SaltFunctions(job["salt"], job["grains"], job["pillar"], job["opts"]),
        "__grains__": job["grains"],
        "__pillar__": job["pillar"],
        "__opts__": job["opts"],
        "__env__": job["saltenv"],
        "__sls__": job["sls"],
        "__file__": filename,
    }
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        code = compile(job["source"], filename, "exec")
        exec(code, env)
        result = sls.output()
    except SyntaxError as e:
        result = {"error": "invalid Python: %s" % e.msg, "line": e.lineno or 0}
    except Exception as e:  # the SLS's own errors, reported at its line
        line = 0
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        line = line or getattr(e, "line", 0)
        msg = str(e) if isinstance(e, PyDslError) else "%s: %s" % (type(e).__name__, e)
        result = {"error": msg, "line": line}
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as e:
        text = json.dumps({"error": "a state argument is not plain data (strings, numbers, lists, dicts): %s" % e, "line": 0})
    out.write(text)
    out.flush()


main()
