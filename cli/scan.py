"""``graphsurgeon scan``: is this model safe to load? (TensorFlow-free; nothing from the model is run)."""
from __future__ import annotations

import json
import sys

import click

from graphsurgeon import __version__
from graphsurgeon.scan import LEVELS, load_policy, scan
from graphsurgeon.scan.sarif import message, to_sarif
from graphsurgeon.wording import plural

from .common import echo, echo_json, handle_errors

_ARGUMENT_SOURCES = {"asset": "the model's asset", "input": "caller-chosen", "saver": "the loader's file name",
                     "fed": "fed at run time", "computed": "computed at run time"}


def _argument(name: str, arg: dict) -> str:
    values = arg.get("values") or []
    source = arg["source"]
    if source in ("constant", "attr") and values:
        return f"{name} = " + ", ".join(json.dumps(v) for v in values[:8]) + (" ..." if len(values) > 8 else "")
    if source == "asset" and values and arg.get("outside"):
        return f"{name} = " + ", ".join(json.dumps(v) for v in values) + \
            f" (the asset file name {', '.join(json.dumps(a) for a in arg.get('assets') or ())}, outside the model)"
    if source == "asset" and values:
        return f"{name} = " + ", ".join(f"assets/{v}" for v in values) + " (the model's asset)"
    text = f"{name}: {_ARGUMENT_SOURCES.get(source, source)}"
    if arg.get("input"):
        text += f" ({arg['input']})"
    if values:
        text += " = " + ", ".join(json.dumps(v) for v in values[:8])
    if arg.get("parts"):
        text += " from " + ", ".join(json.dumps(p) for p in arg["parts"][:6])
    return text


def _route(finding: dict) -> str:
    if finding["reached_from"] is None:
        if finding["unreachable"]:
            return "unreachable from any signature (one level lower)"
        return "no signature: any op of this graph may be run by name"
    steps = " > ".join(f"{s['op']} [{s['attr']}] {s['calls']}" for s in finding["path"])
    return f"reached from {finding['reached_from']}" + (f": {steps}" if steps else "")


def _print_model(record: dict, show_all: bool, fail_on: str) -> None:
    shown = [f for f in record["findings"] if show_all or (f["severity"] != "info" and not f["allowed"])]
    if record["error"]:
        echo(f"{record['model']}  ERROR")
        echo(f"error: {record['error']}", err=True)
        return
    counts = ", ".join(f"{record['counts'][level]} {level}" for level in reversed(LEVELS[1:])
                       if record["counts"][level])
    head = "FAIL" if record["verdict"] == "fail" else "pass"
    echo(f"{record['model']}  {head}" + (f"  ({counts})" if counts else ""))
    for f in shown:
        tag = "allowed" if f["allowed"] else f["severity"]
        where = f" in {f['function']}" if f["function"] and not f["keras"] else ""
        meta = f" [{f['meta_graph']}]" if f["meta_graph"] else ""
        if f["keras"]:
            k = f["keras"]
            member = f" [in {f['member']}]" if f.get("member") else ""
            echo(f"  {tag:<7} {f['what']}: {f['type']} {f['name']!r}, function {f['function'] or '?'!r}"
                 f" ({k['stored']}{', module ' + k['module'] if k.get('module') else ''}; {k['source']}){member}")
            if f.get("reason"):
                echo(f"          why: {f['reason']}")
            code = k.get("code")
            if code:
                uses = ", ".join(code["names"][:12]) or "nothing global"
                echo(f"          bytecode from {code['filename']!r} uses {uses}"
                     + (f"; strings {', '.join(json.dumps(s) for s in code['strings'][:4])}" if code["strings"] else ""))
            continue
        member = f" [in {f['member']}]" if f.get("member") else ""
        echo(f"  {tag:<7} {f['what']}: {f['type']} {f['name']!r}{where}{meta}{member}")
        if f.get("inside"):
            echo(f"          inside the serialized graph of {' > '.join(f['inside'])}")
        for name, arg in f["arguments"].items():
            echo(f"          {_argument(name, arg)}")
        if f.get("reason"):
            echo(f"          why: {f['reason']}")
        if f["benign"]:
            echo(f"          benign: {f['benign']}")
        else:
            echo(f"          {_route(f)}")


def _explain(op_types, as_json: bool) -> None:
    from graphsurgeon.scan.explain import describe, explain

    found = [explain(t) for t in op_types]
    if as_json:
        echo_json(found if len(found) > 1 else found[0])
    else:
        for data in found:
            for line in describe(data):
                echo(line)


class _Progress:
    """``scanned N/M`` on a terminal's stderr, rewritten in place; nothing when stderr is not a terminal."""

    def __init__(self):
        try:
            self.enabled = sys.stderr.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total > 1:
            width = 30
            filled = width * done // total
            sys.stderr.write(f"\rscanning [{'#' * filled}{'.' * (width - filled)}] {done}/{total}\x1b[K")
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--fail-on", type=click.Choice(["low", "medium", "high"]), default=None,
              help="exit 1 when a finding is this severe or more (default: medium, or the policy's)")
@click.option("--allow", "allow", multiple=True, metavar="OP", help="accept this op type (repeatable)")
@click.option("--policy", "policy_file", type=click.Path(), help="JSON policy: fail_on and allow entries")
@click.option("--all", "show_all", is_flag=True, help="show benign findings too (savers, asset tables)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document (schema in README)")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="print one JSON line per model")
@click.option("--sarif", "as_sarif", is_flag=True, help="print SARIF 2.1.0 (code-scanning interfaces)")
@click.option("--jobs", "-j", type=int, default=None, help="models scanned in parallel (default: the cores)")
@click.option("--dask", "dask", metavar="SCHEDULER", help="run on this dask.distributed scheduler instead")
@click.option("--explain", "explain_types", multiple=True, metavar="OPTYPE",
              help="say why an op type is classified as it is (repeatable; no PATH needed)")
@handle_errors
def command(paths, fail_on, allow, policy_file, show_all, as_json, as_jsonl, as_sarif, jobs, dask, explain_types):
    """Is this model safe to load? List what each model can do outside the graph.

    PATH is a model (SavedModel folder, .meta, .pb/.pbtxt, checkpoint, .keras,
    Keras .h5, a .zip or .tar(.gz) archive of them) or a folder searched for
    them. Exit 0: nothing at or above --fail-on; 1: findings; 2: a usage error
    or a path that could not be read.
    """
    from graphsurgeon.errors import UsageError

    if sum((as_json, as_jsonl, as_sarif)) > 1:
        raise UsageError("choose one of --json, --jsonl and --sarif")
    if explain_types:
        _explain(explain_types, as_json)
        if not paths:
            return
    elif not paths:
        raise UsageError("scan needs a PATH (a model or a folder of models), or --explain OPTYPE")
    policy = load_policy(policy_file, fail_on=fail_on, allow=allow)
    progress = _Progress()
    try:
        report = scan(list(paths), policy=policy, jobs=jobs, dask=dask, progress=progress)
    finally:
        progress.clear()
    if as_json:
        echo_json(report)
    elif as_jsonl:
        for record in report["models"]:
            click.echo(json.dumps(record))
    elif as_sarif:
        echo_json(to_sarif(report, __version__, include_info=show_all))
    else:
        for record in report["models"]:
            _print_model(record, show_all, policy.fail_on)
        s = report["summary"]
        echo(f"scanned {plural(s['models'], 'model')}: {s['pass']} pass, {s['fail']} fail, {s['error']} unreadable "
             f"(fail on {policy.fail_on} or above" + ("" if show_all else "; --all shows benign findings") + ")")
    if as_json or as_jsonl or as_sarif:
        for record in report["models"]:
            if record["error"]:
                echo(f"error: {record['error']}", err=True)
    sys.exit(report["status"])


__all__ = ["command", "message"]
