#!/usr/bin/env python3
"""tools/count-asserts.py: the library's assertion density, and its lint.

Counts the function definitions and the REGIO_ASSERT-family uses (any macro
whose name starts with REGIO_ASSERT) in the library's modules (arena/,
iobuf/, engine/, wal/, .c and .h files), per module and in all, with
comments, string literals and preprocessor lines removed first (so the
macro's own definition and an assertion quoted in a comment do not count).

--check fails (exit 1) when
  * the ratio in all falls below --min (default 1.0: issue 18 asks for one
    assertion per library function on average), or
  * a function whose comment states a lock precondition ("with flush_mu
    held", "under mu", "the caller holds X", "(class lock held)", "Lock
    held.", "the engine is entered") does not assert it: its body must call
    regio__lock_held (regio__engine_entered for the engine) inside a
    REGIO_ASSERT, with the lock's name when the comment names its field
    (flush_mu, mu, publishers_lock, ...).
--missing lists the functions without an assertion (where to look next).

docs/architecture.md ("Invariants") says what is asserted and why.
"""
import argparse
import os
import re
import sys

MODULES = ["arena", "iobuf", "engine", "wal"]
ASSERT_RE = re.compile(r"\bREGIO_ASSERT\w*\s*\(")
IDENT_RE = re.compile(r"([A-Za-z_]\w*)\s*\($")
NOT_FUNCS = {"if", "for", "while", "switch", "return", "sizeof", "__attribute__", "alignas"}

# A lock precondition in a function's comment, and the lock it names.
LOCK_PHRASES = [
    re.compile(r"\bwith ([\w>.-]+) held\b"),
    re.compile(r"\bruns? (?:with|under) ([\w>.-]+)"),
    re.compile(r"\b[Cc]all(?:ed|er) (?:holds|under) ([\w>.-]+)"),
    re.compile(r"\b[Uu]nder ((?:w->|e->|s->|c->|p->)?\w*(?:mu|lock))\b"),
    re.compile(r"\(([\w ]*lock) held\)"),
    re.compile(r"\b(Lock) held\."),
    re.compile(r"\b(engine) (?:is )?entered\b(?! or)"),
]


def strip(text):
    """Blank comments, string and character literals and preprocessor lines
    (with their continuations), keeping newlines; returns (code, comments)
    where comments[i] is the text of the comment ending on line i."""
    out, comments = [], {}
    i, n, line = 0, len(text), 1
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if at_line_start and c == "#":
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append("\n")
                    line += 1
                    i += 2
                    continue
                i += 1
            continue
        at_line_start = False
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            body = text[i:j]
            line += body.count("\n")
            comments[line] = comments.get(line, "") + body
            out.append("\n" * body.count("\n"))
            i = j
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments[line] = comments.get(line, "") + text[i:j]
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        if c == "\n":
            line += 1
            at_line_start = True
        out.append(c)
        i += 1
    return "".join(out), comments


def functions(code):
    """Yield (name, start_line, body) for each function definition: a brace
    at file scope whose head ends with a parameter list."""
    depth, head_start, i, n = 0, 0, 0, len(code)
    while i < n:
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[head_start:i].strip()
                name = None
                if head.endswith(")") and "=" not in head.split("(")[0]:
                    # the identifier before the parameter list's "(" (the
                    # outermost one that closes at the end of the head)
                    lvl, k = 0, len(head) - 1
                    while k >= 0:
                        if head[k] == ")":
                            lvl += 1
                        elif head[k] == "(":
                            lvl -= 1
                            if lvl == 0:
                                break
                        k -= 1
                    m = IDENT_RE.search(head[: k + 1])
                    if m and m.group(1) not in NOT_FUNCS:
                        name = m.group(1)
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if name is not None:
                    yield name, code.count("\n", 0, start) + 1, code[start : i + 1]
                head_start = i + 1
        elif c == ";" and depth == 0:
            head_start = i + 1
        i += 1


def comment_above(comments, code_lines, line):
    """The comment that ends just above the function's first line (its
    head may span lines: look back over the head's lines)."""
    k = line - 1
    while k > 0 and code_lines[k - 1].strip() != "" and k not in comments:
        k -= 1
    # k: the last line before the head that is blank in code
    return comments.get(k, "")


def lock_names(comment):
    names = []
    for rx in LOCK_PHRASES:
        for m in rx.finditer(comment):
            names.append(m.group(1).rstrip(".-"))
    return names


def lock_asserted(body, name):
    calls = re.findall(r"REGIO_ASSERT\w*\s*\(([^;]*)", body)
    held = [c for c in calls if "regio__lock_held" in c or "regio__engine_entered" in c]
    if not held:
        return False
    if name == "engine":
        return any("regio__engine_entered" in c for c in held)
    field = name.split("->")[-1].split(".")[-1]
    if re.fullmatch(r"\w*_(mu|lock)|mu", field):
        return any(re.search(r"\b" + re.escape(field) + r"\b", c) for c in held)
    return True


def scan(root):
    stats = {}
    problems, missing = [], []
    for mod in MODULES:
        nf = na = 0
        for dirpath, _, files in sorted(os.walk(os.path.join(root, mod))):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as f:
                    code, comments = strip(f.read())
                code_lines = code.split("\n")
                na += len(ASSERT_RE.findall(code))
                for name, line, body in functions(code):
                    nf += 1
                    if not ASSERT_RE.search(body):
                        missing.append(f"{rel}:{line}: {name}")
                    for lock in lock_names(comment_above(comments, code_lines, line)):
                        if not lock_asserted(body, lock):
                            problems.append(
                                f"{rel}:{line}: {name}: its comment says '{lock}' is held; "
                                "no REGIO_ASSERT(regio__lock_held(...)) checks it"
                            )
        stats[mod] = (nf, na)
    return stats, problems, missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--min", type=float, default=1.0)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--missing", action="store_true")
    a = ap.parse_args()
    stats, problems, missing = scan(a.root)
    tf = sum(s[0] for s in stats.values())
    ta = sum(s[1] for s in stats.values())
    for mod, (nf, na) in stats.items():
        print(f"{mod:8} functions {nf:4}  asserts {na:4}  per function {na / max(nf, 1):.2f}")
    ratio = ta / max(tf, 1)
    print(f"{'all':8} functions {tf:4}  asserts {ta:4}  per function {ratio:.2f}")
    if a.missing:
        print("\n".join(missing))
    rc = 0
    for p in problems:
        print("count-asserts: " + p, file=sys.stderr)
        rc = 1
    if tf < 100:
        print(f"count-asserts: only {tf} functions found: the parser is broken", file=sys.stderr)
        rc = 1
    if ratio < a.min:
        print(f"count-asserts: {ratio:.2f} assertions per function, below {a.min}", file=sys.stderr)
        rc = 1
    return rc if a.check else 0


if __name__ == "__main__":
    sys.exit(main())
