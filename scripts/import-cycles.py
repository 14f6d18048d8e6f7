#!/usr/bin/env python3
"""Finds import cycles between the files of a Rust crate.

Every `use crate::…`, `use super::…` and `use self::…` outside test code is resolved to the
file that defines the item it names (through `pub use` re-exports), and the files are a graph
with an edge from each file to each file it imports. A cycle is a set of files that reach
each other (a strongly connected component of more than one file). A parent's `mod child;`
is not an import: a parent may declare its children, and a child may use its parent, as long
as the parent does not use the child back.

    scripts/import-cycles.py [SRC_DIR ...]      # default: src and every crates/*/src

Exits 1 and prints each cycle when there is one.
"""

import os
import re
import sys

ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:async\s+)?(?:const\s+)?"
    r"(?:struct|enum|fn|trait|type|const|static|mod|union|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)
PATH = re.compile(r"\b[a-z_][a-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+")
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)


def strip_tests(text):
    """Drops `#[cfg(test)]` items (a module block or one item) and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out = []
    i = 0
    marker = "#[cfg(test)]"
    while True:
        j = text.find(marker, i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        k = j + len(marker)
        # The item: up to its `;` (a `mod x;`) or its matching brace.
        depth = 0
        while k < len(text):
            c = text[k]
            if c == ";" and depth == 0:
                k += 1
                break
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    k += 1
                    break
            k += 1
        i = k
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']; `x as y` -> 'x'."""
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree.split("as")[0] if "as" in tree and not tree.endswith("as") else tree]
    head, rest = tree.split("{", 1)
    body = rest[: rest.rfind("}")]
    parts, depth, cur = [], 0, ""
    for c in body:
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        cur += c
    if cur:
        parts.append(cur)
    out = []
    for p in parts:
        if not p:
            continue
        for e in expand(p):
            out.append(head + e if e != "self" else head.rstrip(":"))
    return out


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path tuple -> file
        for root, _, names in os.walk(src):
            for n in names:
                if not n.endswith(".rs"):
                    continue
                path = os.path.join(root, n)
                rel = os.path.relpath(path, src)[:-3].split(os.sep)
                if rel in (["lib"], ["main"]):
                    mod = ()
                elif rel[-1] == "mod":
                    mod = tuple(rel[:-1])
                else:
                    mod = tuple(rel)
                if mod == () and rel == ["main"] and os.path.exists(os.path.join(src, "lib.rs")):
                    continue  # the binary is its own crate
                if len(rel) > 1 and rel[0] == "bin":
                    continue
                self.files[mod] = path
        self.text = {m: strip_tests(open(p, encoding="utf-8").read()) for m, p in self.files.items()}
        self.mods_declared = {
            m: set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_0-9]+)", t, re.M))
            for m, t in self.text.items()
        }
        # Test-only files (declared only under #[cfg(test)]) drop out: they are not in text.
        self.items = {m: set(ITEM.findall(t)) for m, t in self.text.items()}
        self.uses = {m: [(bool(vis), p) for vis, tree in USE.findall(t) for p in expand(tree)] for m, t in self.text.items()}

    def absolute(self, mod, path):
        parts = path.split("::")
        if parts[0] == "crate":
            base, parts = [], parts[1:]
        elif parts[0] in ("super", "self"):
            base = list(mod)
            while parts and parts[0] in ("super", "self"):
                if parts[0] == "super":
                    base = base[:-1]
                parts = parts[1:]
        elif parts[0] in self.mods_declared.get(mod, ()):
            base = list(mod)  # a child module, named from its parent
        else:
            return None  # an external crate
        return base + parts

    def resolve(self, parts, seen=None):
        """The file defining the item at `parts` (a list), following re-exports."""
        seen = seen or set()
        # The longest prefix that is a module.
        for n in range(len(parts), -1, -1):
            mod = tuple(parts[:n])
            if mod in self.files:
                break
        else:
            return None
        rest = parts[n:]
        if not rest or rest == ["*"]:
            return mod
        name = rest[0]
        if name in self.items.get(mod, ()) or len(rest) > 1 and name not in self.mods_declared.get(mod, ()):
            return mod
        # A re-export in that module?
        key = (mod, name)
        if key in seen:
            return mod
        seen.add(key)
        for _, p in self.uses.get(mod, ()):
            last = p.split("::")[-1]
            if last == name:
                target = self.absolute(mod, p)
                if target is not None:
                    found = self.resolve(target + rest[1:], seen)
                    if found is not None:
                        return found
        return mod

    def graph(self):
        edges = {m: set() for m in self.files}
        for mod, uses in self.uses.items():
            aliases = {}
            for _, p in uses:
                target = self.absolute(mod, p)
                if target is None:
                    continue
                found = self.resolve(target)
                if found is not None and found != mod and found in self.files:
                    edges[mod].add(found)
                if tuple(target) in self.files:
                    aliases[p.split("::")[-1]] = target
            # Paths written in the code (`load::load(..)`, `otlp::http::export(..)`) import too.
            code = USE.sub("", self.text[mod])
            for m in PATH.finditer(code):
                parts = m.group(0).split("::")
                if parts[0] in aliases:
                    target = aliases[parts[0]] + parts[1:]
                else:
                    target = self.absolute(mod, m.group(0))
                if target is None:
                    continue
                found = self.resolve(target)
                if found is not None and found != mod and found in self.files:
                    edges[mod].add(found)
        return edges


def cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    roots = sys.argv[1:]
    if not roots:
        here = os.path.dirname(os.path.abspath(__file__))
        repo = os.path.dirname(here)
        roots = [os.path.join(repo, "src")]
        crates = os.path.join(repo, "crates")
        if os.path.isdir(crates):
            roots += [os.path.join(crates, c, "src") for c in sorted(os.listdir(crates))]
    bad = 0
    for src in roots:
        if not os.path.isdir(src):
            continue
        crate = Crate(src)
        edges = crate.graph()
        for comp in cycles(edges):
            bad += 1
            names = sorted(crate.files[m] for m in comp)
            print(f"import cycle in {src}:")
            for n in names:
                mod = next(m for m in comp if crate.files[m] == n)
                back = sorted(os.path.relpath(crate.files[w], src) for w in edges[mod] if w in comp)
                print(f"  {os.path.relpath(n, src)} -> {', '.join(back)}")
    if bad:
        sys.exit(1)
    print("no import cycles in " + ", ".join(os.path.relpath(r) for r in roots))


if __name__ == "__main__":
    main()
