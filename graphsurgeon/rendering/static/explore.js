// graphsurgeon explore: the page. No dependencies, no server needed.
//
// Data arrive as scripts calling GS.site / GS.view / GS.index / GS.list
// (browsers refuse fetch() on file:// URLs). Everything a model names --
// ops, scopes, types, devices, attributes -- reaches the page as text
// (textContent, never innerHTML), and the SVG of a view is parsed as XML
// and kept to the elements and attributes Graphviz writes.
"use strict";

const GS = (function () {
  const state = { site: null, index: null, view: null, selected: null, details: null, searched: null };
  const views = new Map();
  const lists = new Map();
  const loading = new Map();
  const SVG_NS = "http://www.w3.org/2000/svg";
  const XLINK = "http://www.w3.org/1999/xlink";
  const SVG_TAGS = new Set(["svg", "g", "title", "text", "polygon", "ellipse", "path", "polyline", "a"]);
  const SVG_ATTRS = new Set(["width", "height", "viewBox", "id", "class", "transform", "fill", "stroke", "points",
    "cx", "cy", "rx", "ry", "d", "x", "y", "text-anchor", "font-family", "font-size", "font-weight", "stroke-width",
    "stroke-dasharray", "xlink:title", "xml:space"]);
  const MAX_RESULTS = 200;

  // ------------------------------------------------------------------ small helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function put(parent, ...children) { for (const c of children) if (c) parent.append(c); return parent; }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function plural(n, word, many) { return `${n.toLocaleString("en-US")} ${n === 1 ? word : many || word + "s"}`; }
  // A view's address in the page: its id; with the path it is rebuilt from when it may not be
  // laid out yet (explore --serve); the op to show in it.
  function hashFor(view, graph, op, path) {
    const p = new URLSearchParams();
    p.set("v", view);
    if (path) p.set("p", path);
    if (op !== undefined && op !== null) { p.set("g", String(graph)); p.set("op", op); }
    return "#" + p.toString();
  }
  function status(text) { $("status").textContent = text || ""; }

  // ------------------------------------------------------------------ loading data
  function load(src, ready) {
    if (ready()) return Promise.resolve();
    if (loading.has(src)) return loading.get(src);
    const promise = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => (ready() ? resolve() : reject(new Error(`${src} held no data`)));
      script.onerror = () => { loading.delete(src); script.remove(); reject(new Error(`cannot load ${src}`)); };
      document.head.appendChild(script);
    });
    loading.set(src, promise);
    return promise;
  }
  const VIEW_ID = /^([0-9]+-[0-9]+(\.[0-9]+)*|h[0-9a-f]{20})$/;
  const served = location.protocol === "http:" || location.protocol === "https:";
  async function loadView(id, path) {
    if (!VIEW_ID.test(id)) throw new Error(`no view ${id}`);
    try {
      await load(`views/${id}.js`, () => views.has(id));
    } catch (e) {
      // explore --serve: a view below the exported --depth is laid out when first asked for.
      if (!served || !path) throw e;
      const answer = await fetch(`_view?path=${encodeURIComponent(path)}`);
      if (!answer.ok) throw e;
      await load(`views/${id}.js`, () => views.has(id));
    }
    let view = views.get(id);
    if (typeof view === "string") { view = await unpack(view); views.set(id, view); }
    return view;
  }
  function loadIndex() { return load("search.js", () => state.index !== null).then(() => state.index); }
  function loadList(ref) {
    const id = String(ref["$list"]);
    if (!/^[0-9a-f]+$/.test(id)) return Promise.reject(new Error("bad list"));
    return load(`lists/${id}.js`, () => lists.has(id)).then(async () => {
      let list = lists.get(id);
      if (typeof list === "string") { list = await unpack(list); lists.set(id, list); }
      return list;
    });
  }
  // Views and lists come deflated, in base64 (site.py's packed()).
  async function unpack(text) {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return JSON.parse(await new Response(stream).text());
  }
  // Op details with their long lists (written once, to files of their own) put back.
  async function expand(details) {
    const out = Object.assign({}, details);
    for (const key of ["inputs", "control_inputs", "control_outputs"]) {
      if (out[key] && out[key]["$list"]) out[key] = await loadList(out[key]);
    }
    if (out.outputs) {
      out.outputs = await Promise.all(out.outputs.map(async (o) =>
        (o.consumers && o.consumers["$list"]) ? Object.assign({}, o, { consumers: await loadList(o.consumers) }) : o));
    }
    return out;
  }

  // ------------------------------------------------------------------ the search index
  function decodeIndex(data) {
    const graphs = data.graphs.map((g) => {
      const names = new Array(g.s.length);
      let previous = "";
      for (let i = 0; i < g.s.length; i++) {
        previous = previous.slice(0, g.p[i]) + g.s[i];
        names[i] = previous;
      }
      const position = new Map();
      names.forEach((name, i) => position.set(name, i));
      return { names, position, view: g.v, node: g.n, outputs: g.o };
    });
    return { views: data.views, graphs };
  }
  function where(graph, op) {
    const g = state.index && state.index.graphs[graph];
    if (!g) return null;
    const i = g.position.get(op);
    if (i === undefined || g.view[i] < 0) return null;
    return { view: state.index.views[g.view[i]], node: "n" + g.node[i] };
  }
  function globToRegExp(glob) {
    let out = "";
    for (let i = 0; i < glob.length; i++) {
      const c = glob[i];
      if (c === "*" && glob[i + 1] === "*") { out += ".*"; i++; if (glob[i + 1] === "/") { out += "(?:/)?"; i++; } }
      else if (c === "*") out += "[^/]*";
      else if (c === "?") out += "[^/]";
      else out += c.replace(/[\\^$.|+()[\]{}]/g, "\\$&");
    }
    return new RegExp("^" + out + "$");
  }
  // Any op or tensor of any graph whose name matches: a substring (case-blind unless the query
  // has capitals), a glob (* within one scope level, ** across levels), or re:REGEX.
  function search(query) {
    let test;
    if (query.startsWith("re:")) {
      try { const re = new RegExp(query.slice(3)); test = (s) => re.test(s); } catch (e) { return { error: e.message }; }
    } else if (/[*?]/.test(query)) {
      const re = globToRegExp(query);
      test = (s) => re.test(s);
    } else if (query === query.toLowerCase()) {
      test = (s) => s.toLowerCase().includes(query);
    } else {
      test = (s) => s.includes(query);
    }
    const tensors = /:\d*$/.test(query) || /:[0-9*?]/.test(query);
    const found = [];
    let total = 0;
    state.index.graphs.forEach((g, gi) => {
      for (let i = 0; i < g.names.length; i++) {
        const name = g.names[i];
        if (tensors) {
          for (let k = 0; k < Math.max(g.outputs[i], 1); k++) {
            const tensor = `${name}:${k}`;
            if (test(tensor)) { total++; if (found.length < MAX_RESULTS) found.push({ graph: gi, op: name, text: tensor }); }
          }
        } else if (test(name)) {
          total++;
          if (found.length < MAX_RESULTS) found.push({ graph: gi, op: name, text: name });
        }
      }
    });
    return { found, total };
  }
  function graphName(gi) {
    const g = state.site.graphs[gi];
    return g && g.name ? `function ${g.name}` : "top-level graph";
  }
  async function runSearch() {
    const query = $("search").value.trim();
    const box = $("results");
    if (!query) { box.hidden = true; clear(box); return; }
    status("loading the search index…");
    try { await loadIndex(); } catch (e) { status(e.message); return; }
    status("");
    const result = search(query);
    clear(box);
    box.hidden = false;
    if (result.error) { box.append(el("p", { class: "error", text: result.error })); return; }
    box.append(el("p", { class: "count", text: result.total > result.found.length
      ? `${plural(result.total, "match", "matches")}, the first ${result.found.length} shown`
      : plural(result.total, "match", "matches") }));
    const list = el("ol", {});
    for (const item of result.found) {
      const at = where(item.graph, item.op);
      const link = el("a", { href: at ? hashFor(at.view, item.graph, item.op) : "#", class: "result", text: item.text });
      const multi = state.site.graphs.length > 1;
      list.append(el("li", {}, link, multi ? el("span", { class: "where", text: graphName(item.graph) }) : null));
    }
    box.append(list);
    state.searched = query;
  }

  // ------------------------------------------------------------------ drawing a view
  function sanitize(root) {
    // Only what Graphviz writes survives: a name can never bring an element, a handler or a link.
    const walk = [root];
    while (walk.length) {
      const node = walk.pop();
      for (const child of Array.from(node.children)) {
        if (child.namespaceURI !== SVG_NS || !SVG_TAGS.has(child.localName)) { child.remove(); continue; }
        walk.push(child);
      }
      for (const attr of Array.from(node.attributes)) {
        if (!SVG_ATTRS.has(attr.name)) node.removeAttributeNS(attr.namespaceURI, attr.localName);
      }
    }
    return root;
  }
  function parseSvg(text) {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    if (!root || root.localName !== "svg" || root.namespaceURI !== SVG_NS) return null;
    return sanitize(document.importNode(root, true));
  }
  function nodeElement(dotId) {
    return /^[ns][0-9]+$/.test(dotId) ? $("picture").querySelector(`g.node[data-gs="${dotId}"]`) : null;
  }
  function crumbs(view) {
    const nav = clear($("crumbs"));
    const steps = view.path.split(".");
    view.crumbs.forEach(([id, label], i) => {
      if (i) nav.append(el("span", { class: "sep", text: "›" }));
      const path = steps.slice(0, i + 1).join(".");  // an ancestor's path is a prefix of the view's
      nav.append(id === view.id ? el("span", { class: "here", text: label })
        : el("a", { href: hashFor(id, null, null, path), text: label }));
    });
  }
  function legend(view) {
    const box = clear($("legend"));
    const style = state.site.style;
    const rows = [];
    for (const [key, text, color] of style.categories) {
      if (view.legend.categories.includes(key)) {
        rows.push(el("li", {}, el("span", { class: "swatch", "data-color": color }), text));
      }
    }
    rows.push(el("li", {}, el("span", { class: "swatch box" }), "collapsed scope: ops, params (double-click opens)"));
    if (view.legend.groups) rows.push(el("li", {}, el("span", { class: "swatch box dashed" }), "siblings drawn together"));
    if (view.legend.stubs) rows.push(el("li", {}, el("span", { class: "swatch box stub" }), "ops outside this view"));
    if (view.legend.frozen) rows.push(el("li", {}, el("span", { class: "swatch frozen" }), "frozen: no variable in trainable_variables"));
    for (const kind of view.legend.edges) {
      const [text, color, dash] = style.edges[kind];
      rows.push(el("li", {}, el("span", { class: `edge ${dash}`, "data-color": color }), text));
    }
    const list = el("ul", {}, ...rows);
    // Colours come from render's own style table: set through the CSSOM (no inline markup).
    for (const span of list.querySelectorAll("[data-color]")) {
      const color = span.getAttribute("data-color");
      if (/^#[0-9a-fA-F]{6}$/.test(color)) {
        if (span.classList.contains("edge")) span.style.borderTopColor = color; else span.style.backgroundColor = color;
      }
    }
    box.append(el("h3", { text: "legend" }), list);
  }
  function graphsList() {
    const box = clear($("graphs"));
    const site = state.site;
    box.append(el("h3", { text: "graphs" }));
    const top = el("ul", {});
    const functions = el("ul", {});
    for (const g of site.graphs) {
      const items = g.parts.map((p) => el("li", {}, el("a", { href: hashFor(p.id), text: p.label }),
        el("span", { class: "where", text: plural(p.ops, "op") })));
      (g.index === 0 ? top : functions).append(...items);
    }
    box.append(top);
    if (site.graphs.length > 1) {
      box.append(el("details", {}, el("summary", { text: `${plural(site.graphs.length - 1, "function")} in the library` }),
        functions));
    }
  }

  async function show(id, graph, op, path) {
    let view;
    status(`loading view ${id}…`);
    try {
      view = await loadView(id, path);
    } catch (e) {
      status(`${id}: not laid out in this export (rerun explore with a larger --depth, or with --serve)`);
      return;
    }
    status("");
    if (!state.view || state.view.id !== id) draw(view);
    const target = op !== null && op !== undefined ? findOp(view, op) : null;
    if (target) {
      mark(target, true);
      await select(target, op);
      if (view.nodes[target].k !== "op" && served) await drill(graph, op);
    } else if (op) {
      status(`${op}: not in this view`);
    }
  }
  // Served (explore --serve): views below the exported depth are laid out on request.
  async function drill(graph, op) {
    try {
      const answer = await fetch(`_locate?g=${encodeURIComponent(graph)}&op=${encodeURIComponent(op)}`);
      if (!answer.ok) return;
      const at = await answer.json();
      if (at && at.view && VIEW_ID.test(at.view)) location.hash = hashFor(at.view, graph, op);
    } catch (e) { /* a static copy: the box stays highlighted */ }
  }
  function findOp(view, op) {
    let box = null;
    for (const [dotId, entry] of Object.entries(view.nodes)) {
      if (entry.k === "op" && (entry.op === op || (entry.ops && entry.ops.includes(op)))) return dotId;
    }
    const at = where(view.graph, op);
    if (at && at.view === view.id) box = at.node;
    return box;
  }
  function draw(view) {
    state.view = view;
    state.selected = null;
    crumbs(view);
    const notes = clear($("notes"));
    notes.append(el("div", { class: "title", text: view.title.replace("\n", " · ") }));
    for (const note of view.notes) notes.append(el("div", { class: "note", text: `note: ${note}` }));
    const picture = clear($("picture"));
    const svg = parseSvg(view.svg);
    if (svg) {
      // Each node's generated id (n0, s1: never a name) as an attribute, to find it by.
      for (const g of svg.querySelectorAll("g.node")) {
        const title = g.querySelector("title");
        if (title && /^[ns][0-9]+$/.test(title.textContent)) g.setAttribute("data-gs", title.textContent);
      }
      picture.append(svg);
    } else {
      picture.append(el("p", { class: "error", text: "this view's picture cannot be read" }));
    }
    legend(view);
    clear($("details")).append(el("p", { class: "hint", text: "click a node for its details; double-click a box to open it" }));
  }
  function mark(dotId, scroll) {
    for (const old of $("picture").querySelectorAll(".gs-hit")) old.classList.remove("gs-hit");
    const node = nodeElement(dotId);
    if (!node) return;
    node.classList.add("gs-hit");
    if (scroll) node.scrollIntoView({ block: "center", inline: "center" });
  }

  // ------------------------------------------------------------------ details
  function shapeText(shape) {
    if (shape === null || shape === undefined) return "?";
    return "[" + shape.map((d) => (d === null || d < 0 ? "?" : String(d))).join(", ") + "]";
  }
  function opLink(graph, name, text) {
    // A name becomes a link to the view drawing it; the index says which (loaded on demand).
    const link = el("a", { href: "#", class: "op", text: text || name });
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      try { await loadIndex(); } catch (e) { status(e.message); return; }
      const at = where(graph, name);
      if (at) location.hash = hashFor(at.view, graph, name); else status(`${name}: not drawn in this export`);
    });
    return link;
  }
  function attrText(value) {
    if (value && typeof value === "object" && !Array.isArray(value) && "dtype" in value && "shape" in value) {
      const shape = "[" + value.shape.join(", ") + "]";
      return "value" in value ? `${value.dtype}${shape} = ${JSON.stringify(value.value)}` : `${value.dtype}${shape}`;
    }
    if (value && typeof value === "object" && !Array.isArray(value) && "function" in value) return value.function;
    return JSON.stringify(value);
  }
  function row(key, ...value) { return el("div", { class: "row" }, el("span", { class: "key", text: key }), ...value); }
  function section(title, items) {
    return items.length ? el("div", { class: "section" }, el("div", { class: "key", text: title }), el("ul", {}, ...items)) : null;
  }
  // What a node is: an op's details (``op``: one of the ops the node stands for, its constants
  // drawn with it), a box's op types and parameters, a stub's outside ops.
  async function select(dotId, op) {
    const view = state.view;
    let entry = view.nodes[dotId];
    if (entry && entry.same) entry = view.nodes[entry.same];  // a spread stub's copy beside one box
    if (!entry) return;
    state.selected = dotId;
    mark(dotId, false);
    const box = clear($("details"));
    if (entry.k === "op") {
      const name = op && entry.ops && entry.ops.includes(op) ? op : entry.op;
      const raw = view.details && view.details[name];
      if (!raw) { box.append(el("p", { text: name })); return; }
      const d = await expand(raw);
      state.details = d;
      box.append(opDetails(view.graph, d, entry));
    } else if (entry.k === "stub") {
      state.details = null;
      box.append(el("h3", { text: `${entry.dir === "in" ? "inputs from" : "outputs to"} ${entry.name}` }),
        el("p", { class: "hint", text: `${plural(entry.count, "op")} outside this view` }),
        el("ul", {}, ...entry.ops.map((name) => el("li", {}, opLink(view.graph, name)))));
      if (entry.count > entry.ops.length) box.append(el("p", { text: `… ${entry.count - entry.ops.length} more` }));
    } else {
      state.details = null;
      box.append(scopeDetails(entry));
    }
  }
  function opDetails(graph, d, entry) {
    const out = el("div", { class: "op-details" });
    out.append(el("h3", { text: d.name }));
    out.append(row("type", d.type + (d.known_op ? "" : "  (not a TensorFlow op we know)")));
    if (d.device) out.append(row("device", d.device));
    if (d.function) out.append(row("function", d.function));
    put(out, section("inputs", d.inputs.map((i) => el("li", {}, `${i.position}: `,
      opLink(graph, i.tensor.replace(/:\d+$/, ""), i.tensor),
      i.missing ? "  missing!" : `  ${i.dtype || "?"} ${shapeText(i.shape)}  from ${i.producer_type}`))) || row("inputs", "(none)"));
    put(out, section("outputs", d.outputs.map((o) => el("li", {}, `${o.name}  ${o.dtype || "?"} ${shapeText(o.shape)}  -> `,
      ...(o.consumers.length ? o.consumers.flatMap((c, k) => (k ? [", ", opLink(graph, c)] : [opLink(graph, c)])) : ["(unused)"])))) ||
      row("outputs", "(none)"));
    put(out, section("control inputs", d.control_inputs.map((c) => el("li", {}, "^", opLink(graph, c)))));
    put(out, section("control outputs", d.control_outputs.map((c) => el("li", {}, opLink(graph, c)))));
    put(out, section("calls", d.calls.map((c) => {
      const call = (entry.calls || []).find((x) => x[1] === c.function);
      const target = call && call[2];
      return el("li", {}, target ? el("a", { href: hashFor(target), class: "call", text: c.function }) : c.function,
        `  (${c.attr})`);
    })));
    put(out, section("attrs", Object.entries(d.attrs).map(([k, v]) => el("li", {}, el("span", { class: "attr", text: k }),
      `  ${attrText(v)}`))));
    if (entry.ops && entry.ops.length > 1) {
      put(out, section("drawn with", entry.ops.filter((m) => m !== d.name).map((m) => el("li", {}, opLink(graph, m)))));
    }
    const json = el("details", { class: "json" }, el("summary", { text: "as show --json prints it" }),
      el("pre", { text: JSON.stringify(d, null, 2) }));
    out.append(json);
    return out;
  }
  function scopeDetails(entry) {
    const out = el("div", { class: "scope-details" });
    out.append(el("h3", { text: entry.k === "scope" ? `${entry.name}/` : entry.name }));
    out.append(row(entry.k === "scope" ? "scope" : "group", `${plural(entry.ops, "op")}` +
      (entry.members ? `, ${plural(entry.members, "sibling")}` : "")));
    out.append(row("params", entry.params.toLocaleString("en-US")));
    out.append(el("p", {}, el("a", { href: hashFor(entry.view, null, null, entry.closed), class: "open",
      text: "open this view ▸" })));
    const table = el("table", { class: "histogram" }, el("tr", {}, el("th", { text: "op type" }), el("th", { text: "ops" })));
    for (const [type, count] of entry.types) table.append(el("tr", {}, el("td", { text: type }), el("td", { text: count.toLocaleString("en-US") })));
    out.append(table);
    return out;
  }
  function open(dotId) {
    const view = state.view;
    let entry = view && view.nodes[dotId];
    if (entry && entry.same) entry = view.nodes[entry.same];
    if (!entry) return;
    if (entry.k === "scope" || entry.k === "group") location.hash = hashFor(entry.view, null, null, entry.closed);
    else if (entry.k === "op" && entry.calls && entry.calls.length && entry.calls[0][2]) location.hash = hashFor(entry.calls[0][2]);
    else if (entry.k === "stub" && entry.ops.length) {
      loadIndex().then(() => {
        const at = where(view.graph, entry.ops[0]);
        if (at) location.hash = hashFor(at.view, view.graph, entry.ops[0]);
      }, (e) => status(e.message));
    }
  }

  // ------------------------------------------------------------------ routing
  function route() {
    const params = new URLSearchParams(location.hash.slice(1));
    const id = params.get("v") || state.site.home;
    const op = params.get("op");
    const graph = parseInt(params.get("g") || "0", 10);
    return show(id, graph, op, params.get("p"));
  }
  function start() {
    if (!state.site) { document.body.textContent = "site.js is missing: this is not a complete explorer site"; return; }
    const site = state.site;
    $("model").textContent = site.model || "graph";
    document.title = `${site.model || "graph"} · graphsurgeon explore`;
    graphsList();
    const picture = $("picture");
    picture.addEventListener("click", (event) => {
      const node = event.target.closest && event.target.closest("g.node");
      const title = node && node.querySelector("title");
      if (title) select(title.textContent);
    });
    picture.addEventListener("dblclick", (event) => {
      const node = event.target.closest && event.target.closest("g.node");
      const title = node && node.querySelector("title");
      if (title) open(title.textContent);
    });
    let timer = null;
    $("search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 150); });
    $("search").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        clearTimeout(timer);
        runSearch().then(() => { const first = document.querySelector("#results a.result"); if (first) first.click(); });
      }
    });
    window.addEventListener("hashchange", () => { state.ready = route(); });
    state.ready = route();
  }

  document.addEventListener("DOMContentLoaded", start);
  return {
    site(data) { state.site = data; },
    view(id, packed) { if (!views.has(id)) views.set(id, packed); },
    index(data) { state.index = decodeIndex(data); },
    list(id, packed) { if (!lists.has(id)) lists.set(id, packed); },
    state,
    search: (q) => (state.index ? search(q) : null),
    select,
    open,
  };
})();
