#!/usr/bin/env python3
"""Compare src/tflite/schema.fbs with the TFLite Python bindings shipped in a wheel.

The upstream `schema_py_generated.py` (in ai-edge-litert, and in tensorflow as
tensorflow/lite/python/schema_py_generated.py) is flatc output of TFLite's own schema,
so it records every fact that matters for binary compatibility:

  * tables: the number of vtable slots (`builder.StartObject(N)`), every field's slot
    (reader `self._tab.Offset(4 + 2*slot)`), scalar type (`Int8Flags`, ...) and default,
    whether it is a string / table / vector / union, the element type of vectors, the
    referenced table type, and vector alignment (`StartVector(size, n, align)`, which is
    where `force_align` shows up);
  * enums: every name and value;
  * unions: every member and its tag, in order.

This script parses our schema.fbs (a small parser, enough for our file), derives the same
facts, prints every difference and exits 1 if there is any, 0 otherwise.

Usage:
    tools/.venv/bin/python tools/check_schema.py [--schema PATH] [--bindings PATH]

Without --bindings it looks for ai_edge_litert/schema_py_generated.py, then
tensorflow/lite/python/schema_py_generated.py, in the running interpreter's site-packages.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# flatbuffers scalar type names -> (python Flags name, byte width)
SCALARS = {
    "bool": ("Bool", 1),
    "byte": ("Int8", 1), "int8": ("Int8", 1),
    "ubyte": ("Uint8", 1), "uint8": ("Uint8", 1),
    "short": ("Int16", 2), "int16": ("Int16", 2),
    "ushort": ("Uint16", 2), "uint16": ("Uint16", 2),
    "int": ("Int32", 4), "int32": ("Int32", 4),
    "uint": ("Uint32", 4), "uint32": ("Uint32", 4),
    "long": ("Int64", 8), "int64": ("Int64", 8),
    "ulong": ("Uint64", 8), "uint64": ("Uint64", 8),
    "float": ("Float32", 4), "float32": ("Float32", 4),
    "double": ("Float64", 8), "float64": ("Float64", 8),
}


# ----------------------------------------------------------------------------------------
# Our schema
# ----------------------------------------------------------------------------------------


@dataclass
class FbsField:
    name: str
    type: str          # as written, e.g. "int32", "[uint8]", "TensorType", "string"
    default: str | None
    attrs: dict
    slot: int = -1


@dataclass
class FbsSchema:
    enums: dict = field(default_factory=dict)    # name -> (underlying, [(NAME, value)])
    unions: dict = field(default_factory=dict)   # name -> [member]
    tables: dict = field(default_factory=dict)   # name -> [FbsField]
    table_attrs: dict = field(default_factory=dict)
    namespace: str | None = None
    root_type: str | None = None
    file_identifier: str | None = None
    file_extension: str | None = None


def _strip_comments(text: str) -> str:
    # Schema strings in our file never contain "//", so this is safe.
    return re.sub(r"//[^\n]*", "", text)


def _parse_attrs(s: str | None) -> dict:
    attrs = {}
    if not s:
        return attrs
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            k, v = part.split(":", 1)
            attrs[k.strip()] = v.strip().strip('"')
        else:
            attrs[part] = True
    return attrs


def _parse_int(s: str) -> int:
    return int(s, 0)


def parse_fbs(path: str) -> FbsSchema:
    text = _strip_comments(open(path, encoding="utf-8").read())
    sch = FbsSchema()
    for m in re.finditer(r'\b(namespace|root_type|file_identifier|file_extension)\s+([^;]+);', text):
        val = m.group(2).strip().strip('"')
        setattr(sch, m.group(1), val)

    block = re.compile(
        r"\b(enum|union|table|struct)\s+(\w+)\s*(?::\s*(\w+))?\s*(?:\(([^)]*)\))?\s*\{([^}]*)\}",
        re.S,
    )
    for m in block.finditer(text):
        kind, name, underlying, attrs, body = m.groups()
        if kind == "struct":
            raise SystemExit(f"check_schema.py: structs are not supported ({name})")
        if kind == "enum":
            values, nxt = [], 0
            for item in body.split(","):
                item = item.strip()
                if not item:
                    continue
                im = re.fullmatch(r"(\w+)\s*(?:=\s*(-?\w+))?\s*(?:\(([^)]*)\))?", item)
                if not im:
                    raise SystemExit(f"check_schema.py: cannot parse enum item {item!r} in {name}")
                v = _parse_int(im.group(2)) if im.group(2) else nxt
                values.append((im.group(1), v))
                nxt = v + 1
            sch.enums[name] = (underlying, values)
        elif kind == "union":
            members = []
            for item in body.split(","):
                item = item.strip()
                if not item:
                    continue
                im = re.fullmatch(r"(\w+)\s*(?:\(([^)]*)\))?", item)
                if not im:
                    raise SystemExit(f"check_schema.py: cannot parse union item {item!r} in {name}")
                members.append(im.group(1))
            sch.unions[name] = members
        else:
            fields = []
            for item in body.split(";"):
                item = " ".join(item.split())
                if not item:
                    continue
                fm = re.fullmatch(
                    r"(\w+)\s*:\s*(\[\s*\w+\s*\]|\w+)\s*(?:=\s*([-+.\w]+))?\s*(?:\(([^)]*)\))?",
                    item,
                )
                if not fm:
                    raise SystemExit(f"check_schema.py: cannot parse field {item!r} in {name}")
                fname, ftype, default, fattrs = fm.groups()
                fields.append(FbsField(fname, ftype.replace(" ", ""), default, _parse_attrs(fattrs)))
            slot = 0
            for f in fields:
                f.slot = slot
                slot += 2 if f.type in sch.unions or _is_union_later(f.type, text) else 1
            sch.tables[name] = fields
            sch.table_attrs[name] = _parse_attrs(attrs)
    # Slots were computed while unions might not all have been seen yet: recompute.
    for fields in sch.tables.values():
        slot = 0
        for f in fields:
            f.slot = slot
            slot += 2 if f.type in sch.unions else 1
    return sch


def _is_union_later(t: str, text: str) -> bool:
    return re.search(r"\bunion\s+" + re.escape(t) + r"\b", text) is not None


def camel(name: str) -> str:
    """flatc's snake_case -> UpperCamel conversion, as used for Python method names."""
    out, up = [], True
    for ch in name:
        if ch == "_":
            up = True
            continue
        out.append(ch.upper() if up else ch)
        up = False
    return "".join(out)


# ----------------------------------------------------------------------------------------
# The Python bindings
# ----------------------------------------------------------------------------------------


@dataclass
class PyField:
    method: str
    slot: int
    kind: str                 # scalar | string | table | union | vector
    scalar: str | None = None  # Flags name for scalar / scalar vector element
    elem: str | None = None    # vector element: "scalar" | "string" | table name
    elem_width: int | None = None
    table: str | None = None
    default: object = None


@dataclass
class PyTable:
    nslots: int = -1
    fields: dict = field(default_factory=dict)       # slot -> PyField
    add_slots: dict = field(default_factory=dict)    # camel name -> (Prepend kind, slot, default)
    vec_start: dict = field(default_factory=dict)    # camel name -> (elem size, alignment)


def find_bindings() -> str:
    candidates = []
    for mod, rel in (("ai_edge_litert", "schema_py_generated.py"),
                     ("tensorflow", os.path.join("lite", "python", "schema_py_generated.py"))):
        spec = importlib.util.find_spec(mod)
        if spec and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                candidates.append(os.path.join(loc, rel))
    for c in candidates:
        if os.path.exists(c):
            return c
    raise SystemExit("check_schema.py: no schema_py_generated.py found; pass --bindings PATH "
                     "or run with the venv's python (tools/.venv/bin/python)")


def parse_py(path: str):
    text = open(path, encoding="utf-8").read()
    classes = {}  # name -> body text (top-level classes)
    for m in re.finditer(r"^class (\w+)\(object\):\n(.*?)(?=^\S)", text, re.S | re.M):
        classes[m.group(1)] = m.group(2)
    toplevel_defs = {}
    for m in re.finditer(r"^def (\w+)\((.*?)\):\n(.*?)(?=^\S|\Z)", text, re.S | re.M):
        toplevel_defs[m.group(1)] = m.group(3)

    enums, unions, tables = {}, {}, {}
    for name, body in classes.items():
        if name.endswith("T") and name[:-1] in classes:
            continue  # object-API class
        if "__slots__ = ['_tab']" in body:
            tables[name] = _parse_py_table(name, body, toplevel_defs)
        elif re.fullmatch(r"(\s*\w+ = -?\d+\s*)+", body):
            values = [(k, int(v)) for k, v in re.findall(r"^\s*(\w+) = (-?\d+)", body, re.M)]
            if name + "Creator" in toplevel_defs:
                unions[name] = values
            else:
                enums[name] = values
    return enums, unions, tables


_METHOD = re.compile(r"^    # \w+\n    def (\w+)\(self(?:, j)?\):\n(.*?)(?=^    # |\Z)", re.S | re.M)


def _parse_py_table(name: str, body: str, defs: dict) -> PyTable:
    t = PyTable()
    for m in _METHOD.finditer(body):
        meth, mb = m.group(1), m.group(2)
        om = re.search(r"self\._tab\.Offset\((\d+)\)", mb)
        if not om:
            continue
        if ("VectorLen" in mb or "GetVectorAsNumpy" in mb or re.search(r"return o == 0", mb)):
            continue
        slot = (int(om.group(1)) - 4) // 2
        f = PyField(meth, slot, "?")
        if "self._tab.Union(" in mb:
            f.kind = "union"
        elif "self._tab.Vector(o)" in mb:
            f.kind = "vector"
            gm = re.search(r"number_types\.(\w+)Flags, a \+ .*?j \* (\d+)", mb)
            if gm:
                f.elem, f.scalar, f.elem_width = "scalar", gm.group(1), int(gm.group(2))
            elif "self._tab.String(" in mb:
                f.elem = "string"
            else:
                tm = re.search(r"obj = (\w+)\(\)", mb)
                f.elem = tm.group(1) if tm else "?"
        elif "self._tab.String(o + self._tab.Pos)" in mb:
            f.kind = "string"
        elif "self._tab.Indirect(" in mb:
            f.kind = "table"
            tm = re.search(r"obj = (\w+)\(\)", mb)
            f.table = tm.group(1) if tm else "?"
        else:
            gm = re.search(r"number_types\.(\w+)Flags, o \+ self\._tab\.Pos", mb)
            if not gm:
                continue
            f.kind, f.scalar = "scalar", gm.group(1)
            rm = re.findall(r"^\s*return (.+)$", mb, re.M)
            f.default = _py_literal(rm[-1]) if rm else None
        t.fields[slot] = f
    so = re.search(r"builder\.StartObject\((\d+)\)", defs.get(name + "Start", ""))
    if so:
        t.nslots = int(so.group(1))
    prefix = name + "Add"
    for dname, dbody in defs.items():
        if dname.startswith(prefix):
            am = re.search(r"builder\.Prepend(\w+)Slot\((\d+), [^,]+, (.+)\)\s*$", dbody.strip())
            if am:
                t.add_slots[dname[len(prefix):]] = (am.group(1), int(am.group(2)), _py_literal(am.group(3)))
        vm = re.fullmatch(re.escape(name) + r"Start(\w+)Vector", dname)
        if vm:
            sm = re.search(r"StartVector\((\d+), numElems, (\d+)\)", dbody)
            if sm:
                t.vec_start[vm.group(1)] = (int(sm.group(1)), int(sm.group(2)))
    return t


def _py_literal(s: str):
    s = s.strip()
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


# ----------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------


def compare(sch: FbsSchema, py_enums, py_unions, py_tables) -> list[str]:
    diffs: list[str] = []
    d = diffs.append

    for key, want in (("namespace", "tflite"), ("root_type", "Model"),
                      ("file_identifier", "TFL3"), ("file_extension", "tflite")):
        if getattr(sch, key) != want:
            d(f"schema: {key} is {getattr(sch, key)!r}, expected {want!r}")

    # --- enums
    for name in sorted(set(sch.enums) | set(py_enums)):
        if name not in sch.enums:
            d(f"enum {name}: missing in schema.fbs")
            continue
        if name not in py_enums:
            d(f"enum {name}: not in the bindings")
            continue
        ours, theirs = sch.enums[name][1], py_enums[name]
        if ours != theirs:
            od, td = dict(ours), dict(theirs)
            for k in sorted(set(od) | set(td), key=lambda k: td.get(k, od.get(k))):
                if od.get(k) != td.get(k):
                    d(f"enum {name}.{k}: ours={od.get(k)} bindings={td.get(k)}")
            if od == td:
                d(f"enum {name}: value order differs")

    # --- unions
    for name in sorted(set(sch.unions) | set(py_unions)):
        if name not in sch.unions:
            d(f"union {name}: missing in schema.fbs")
            continue
        if name not in py_unions:
            d(f"union {name}: not in the bindings")
            continue
        ours = [("NONE", 0)] + [(m, i + 1) for i, m in enumerate(sch.unions[name])]
        theirs = py_unions[name]
        n = max(len(ours), len(theirs))
        for i in range(n):
            o = ours[i] if i < len(ours) else None
            t = theirs[i] if i < len(theirs) else None
            if o != t:
                d(f"union {name} member #{i}: ours={o} bindings={t}")

    # --- tables
    enum_types = {n: u for n, (u, _) in sch.enums.items()}
    enum_vals = {n: dict(v) for n, (_, v) in sch.enums.items()}
    for name in sorted(set(sch.tables) | set(py_tables)):
        if name not in sch.tables:
            d(f"table {name}: missing in schema.fbs")
            continue
        if name not in py_tables:
            d(f"table {name}: not in the bindings")
            continue
        fields, pt = sch.tables[name], py_tables[name]
        nslots = sum(2 if f.type in sch.unions else 1 for f in fields)
        if pt.nslots != nslots:
            d(f"table {name}: {nslots} slots, bindings StartObject({pt.nslots})")
        seen = set()
        for f in fields:
            where = f"{name}.{f.name} (slot {f.slot})"
            cname = camel(f.name)
            is_union = f.type in sch.unions
            if f.attrs.get("deprecated"):
                for s in ([f.slot, f.slot + 1] if is_union else [f.slot]):
                    if s in pt.fields:
                        d(f"{where}: deprecated here but the bindings read it as {pt.fields[s].method}")
                    seen.add(s)
                continue
            if is_union:
                tf, vf = pt.fields.get(f.slot), pt.fields.get(f.slot + 1)
                seen.update((f.slot, f.slot + 1))
                if not tf or tf.kind != "scalar" or tf.scalar != "Uint8" or tf.method != cname + "Type":
                    d(f"{where}: bindings have no union type field {cname}Type at this slot "
                      f"(found {tf.method if tf else None})")
                if not vf or vf.kind != "union" or vf.method != cname:
                    d(f"{where}: bindings have no union value {cname} at slot {f.slot + 1} "
                      f"(found {vf.method if vf else None})")
                continue
            pf = pt.fields.get(f.slot)
            seen.add(f.slot)
            if pf is None:
                d(f"{where}: not in the bindings")
                continue
            if pf.method != cname:
                d(f"{where}: bindings name this slot {pf.method}, expected {cname}")
            _compare_field(d, where, f, pf, pt, cname, sch, enum_types, enum_vals)
        for s, pf in sorted(pt.fields.items()):
            if s not in seen:
                d(f"table {name}: bindings have {pf.method} at slot {s}, not in schema.fbs")
    return diffs


def _compare_field(d, where, f, pf, pt, cname, sch, enum_types, enum_vals):
    t = f.type
    if t.startswith("["):
        elem = t[1:-1]
        if pf.kind != "vector":
            d(f"{where}: ours is vector {t}, bindings read a {pf.kind}")
            return
        if elem == "string":
            if pf.elem != "string":
                d(f"{where}: ours [string], bindings element {pf.elem}")
        elif elem in sch.tables:
            if pf.elem != elem:
                d(f"{where}: ours [{elem}], bindings element {pf.elem}")
        else:
            base = enum_types.get(elem, elem)
            if base not in SCALARS:
                d(f"{where}: unknown element type {elem}")
                return
            flags, width = SCALARS[base]
            if pf.elem != "scalar" or pf.scalar != flags or pf.elem_width != width:
                d(f"{where}: ours [{elem}] ({flags}, {width} B), bindings "
                  f"{pf.elem} {pf.scalar} {pf.elem_width} B")
        vs = pt.vec_start.get(cname)
        if vs:
            size, align = vs
            if elem in SCALARS or elem in enum_types:
                want_size = SCALARS[enum_types.get(elem, elem)][1]
            else:
                want_size = 4  # offsets
            # flatc's Python generator ignores force_align (it always passes the element
            # alignment), so force_align cannot be checked against the bindings.
            if (size, align) != (want_size, want_size):
                d(f"{where}: ours element size {want_size}, "
                  f"bindings StartVector({size}, n, {align})")
        else:
            d(f"{where}: bindings have no {cname} vector builder")
        return
    if t == "string":
        if pf.kind != "string":
            d(f"{where}: ours string, bindings {pf.kind}")
        return
    if t in sch.tables:
        if pf.kind != "table" or pf.table != t:
            d(f"{where}: ours table {t}, bindings {pf.kind} {pf.table}")
        return
    base = enum_types.get(t, t)
    if base not in SCALARS:
        d(f"{where}: unknown type {t}")
        return
    flags, _ = SCALARS[base]
    if pf.kind != "scalar" or pf.scalar != flags:
        d(f"{where}: ours {t} ({flags}), bindings {pf.kind} {pf.scalar}")
        return
    # Defaults.
    if f.default is None:
        want = False if base == "bool" else (0.0 if flags.startswith("Float") else 0)
    elif t in enum_vals and f.default in enum_vals[t]:
        want = enum_vals[t][f.default]
    elif base == "bool":
        want = f.default == "true"
    elif flags.startswith("Float"):
        want = float(f.default)
    else:
        want = int(f.default, 0)
    got = pf.default
    add = pt.add_slots.get(cname)
    if add is not None:
        kind, slot, add_default = add
        if slot != f.slot:
            d(f"{where}: bindings {cname} builder writes slot {slot}")
        if kind != flags:
            d(f"{where}: bindings builder Prepend{kind}Slot, expected Prepend{flags}Slot")
        if base == "bool":
            add_default = bool(add_default)
        if add_default != want:
            d(f"{where}: default ours={want!r} bindings builder={add_default!r}")
    else:
        d(f"{where}: bindings have no {cname} builder")
    if base == "bool":
        got = bool(got)
    if got != want:
        d(f"{where}: default ours={want!r} bindings reader={got!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schema", default=os.path.join(REPO, "src", "tflite", "schema.fbs"))
    ap.add_argument("--bindings", default=None)
    args = ap.parse_args()
    bindings = args.bindings or find_bindings()
    sch = parse_fbs(args.schema)
    py_enums, py_unions, py_tables = parse_py(bindings)
    print(f"schema:   {os.path.relpath(args.schema)}: {len(sch.tables)} tables, "
          f"{len(sch.enums)} enums, {len(sch.unions)} unions")
    print(f"bindings: {bindings}: {len(py_tables)} tables, {len(py_enums)} enums, "
          f"{len(py_unions)} unions")
    if not py_tables or not py_enums:
        print("error: could not read the bindings")
        return 2
    diffs = compare(sch, py_enums, py_unions, py_tables)
    for line in diffs:
        print("DIFF", line)
    print(f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
