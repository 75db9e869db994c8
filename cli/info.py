"""``graphsurgeon info``: what a model is, at a glance."""
from __future__ import annotations

import click

from graphsurgeon.analysis import report
from graphsurgeon.ir.graph import format_shape
from graphsurgeon.wording import plural

from .common import echo, echo_json, handle_errors, json_option, load, model_argument


def _tensor(t) -> str:
    return f"{t['name']}  {t['dtype'] or '?'} {format_shape(t['shape'])}"


@click.command("info")
@model_argument
@json_option
@handle_errors
def command(model, tag, as_json):
    """Format, versions, signatures, inputs/outputs, variables, op types, collections."""
    g = load(model, tag)
    d = report.info(g)
    if as_json:
        echo_json(d)
        return
    say = echo
    say(f"model        {d['model']}")
    fmt = d["format"] + (f" ({d['encoding']})" if d["encoding"] else "")
    say(f"format       {fmt}")
    if d["file"] and d["file"] != d["model"]:
        say(f"graph file   {d['file']}")
    say(f"checkpoint   {d['checkpoint'] or '(none found)'}")
    version = d["tensorflow_version"] or "?"
    say(f"written by   TensorFlow {version}" + (f", GraphDef producer {d['producer']}" if d["producer"] is not None else ""))
    if d["tag_sets"]:
        say("tag sets     " + ", ".join("+".join(t) or "(none)" for t in d["tag_sets"])
            + (f"   (showing {'+'.join(d['tags'])})" if len(d["tag_sets"]) > 1 else ""))
    in_functions = f" (+{d['function_ops']:,} in {plural(d['functions'], 'function')})" if d["functions"] else ""
    say(f"ops          {d['ops']}{in_functions}")
    v = d["variables"]
    say(f"variables    {v['count']} ({plural(v['params'], 'parameter')}, {plural(v['bytes'], 'byte')}"
        + (f", {v['trainable']} trainable)" if v["trainable"] else ")"))
    if d["signatures"]:
        say("signatures")
        for key, sig in d["signatures"].items():
            say(f"  {key}  ({sig['method']})")
            for k, t in sig["inputs"].items():
                say(f"    in  {k}: {_tensor(t)}")
            for k, t in sig["outputs"].items():
                say(f"    out {k}: {_tensor(t)}")
    if d["likely_inputs"]:
        say("inputs (placeholders)")
        for t in d["likely_inputs"]:
            say(f"  {_tensor(t)}")
    if d["likely_outputs"]:
        say("outputs (read by nothing)")
        for t in d["likely_outputs"]:
            say(f"  {_tensor(t)}")
    if d["training_ops"]:
        say(f"training     {d['training_ops']} of {d['ops']} ops are training machinery (gradients, optimizer, "
            "saver, initializers; ls --no-training hides them)")
    say("op types     " + ", ".join(f"{k} {n}" for k, n in list(d["op_types"].items())[:12])
        + (f", ... ({len(d['op_types'])} types)" if len(d["op_types"]) > 12 else ""))
    if d["collections"]:
        say("collections  " + ", ".join(f"{k} ({c['size']})" for k, c in sorted(d["collections"].items())))
    if d["functions"]:
        shown = d["functions"][:8]
        say("functions    " + ", ".join(shown) + (f", ... ({len(d['functions'])})" if len(d["functions"]) > 8 else ""))
    if d["control_flow"]:
        say("control flow " + ", ".join(d["control_flow"]))
    if d["devices"]:
        say("devices      " + ", ".join(d["devices"]))
    if d["unknown_op_types"]:
        say("unknown ops  " + ", ".join(d["unknown_op_types"]) + "  (custom op library needed to run)")
    reaching = [e for e in d["external_access"] if not e["benign"]]
    benign = [e for e in d["external_access"] if e["benign"]]
    if reaching:
        say("reaches out  " + ", ".join(f"{e['name']} ({e['type']}, {e['reaches']})" for e in reaching[:10])
            + (f", ... ({len(reaching)})" if len(reaching) > 10 else "")
            + "  (graphsurgeon scan MODEL: what each is pointed at, and a verdict)")
    if benign:
        reasons = list(dict.fromkeys(e["benign"] for e in benign))
        say("benign I/O   " + ", ".join(e["name"] for e in benign[:10])
            + (f", ... ({len(benign)})" if len(benign) > 10 else "") + ": " + "; ".join(reasons))
