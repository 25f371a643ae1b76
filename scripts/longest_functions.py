#!/usr/bin/env python3
"""longest_functions.py — the N longest C++ function bodies under some folders.

A function is a `{ ... }` whose opening brace sits directly in a namespace, a
class/struct or at file scope and whose preceding text (since the last `;`,
`{` or `}`) has a parameter list `(...)` and is not a namespace, class, enum or
initializer. Its length is the number of lines from the line of its name to
the line of its closing brace (inclusive). Comments, strings and character
literals are blanked first, so braces in them do not count. Lambdas and local
structs count towards the function that holds them.

    python3 scripts/longest_functions.py                    # the default folders, top 15
    python3 scripts/longest_functions.py -n 30 nn apps      # other folders / more rows
    python3 scripts/longest_functions.py --over 60          # every function over 60 lines

Cost: one pass over each file's characters.
"""
import argparse
import os
import re
import sys

DEFAULT_DIRS = ["nn/train", "nn/study", "nn/pixel/pixel_trainer.cpp", "nn/report", "nn/models",
                "apps/train", "apps/study", "apps/pixel"]
SCOPE_KEYWORDS = re.compile(r"\b(namespace|class|struct|union|enum)\b")


def blank_comments_and_strings(text):
    """The text with comments, string and char literals replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum():
                out.append(c)  # digit separator 1'000
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else " " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, line count) of every function defined in `path`."""
    with open(path, encoding="utf-8", errors="replace") as f:
        source = f.read()
    text = blank_comments_and_strings(source)
    text = re.sub(r"^[ \t]*#.*$", lambda m: " " * len(m.group(0)), text, flags=re.M)  # preprocessor lines
    assert text.count("\n") == source.count("\n"), f"{path}: blanking changed the line count"
    found = []
    stack = []  # per open brace: ("scope" | "function" | "other", start index, name)
    head_start = 0  # where the text before the next brace starts
    for i, c in enumerate(text):
        if c in ";":
            head_start = i + 1
        elif c == "{":
            head = text[head_start:i]
            in_scope = all(kind == "scope" for kind, _, _ in stack)
            kind, name = "other", ""
            if in_scope:
                stripped = head.strip()
                if SCOPE_KEYWORDS.search(stripped.split("(")[0]) or stripped.startswith("extern"):
                    kind = "scope"
                elif "(" in stripped and ")" in stripped and not stripped.endswith("=") and "=" not in stripped.split("(")[0]:
                    kind = "function"
                    m = re.search(r"([~\w:]+(?:operator\s*\S+)?)\s*\(", stripped)
                    name = m.group(1) if m else stripped[:40]
                    lead = len(head) - len(head.lstrip())
                    head_start_line = text.count("\n", 0, head_start + lead) + 1
                    stack.append((kind, head_start_line, name))
                    head_start = i + 1
                    continue
            stack.append((kind, 0, name))
            head_start = i + 1
        elif c == "}":
            if stack:
                kind, start_line, name = stack.pop()
                if kind == "function":
                    end_line = text.count("\n", 0, i) + 1
                    found.append((name, start_line, end_line - start_line + 1))
            head_start = i + 1
    return found


def source_files(targets):
    for t in targets:
        if os.path.isfile(t):
            yield t
            continue
        for root, _, files in os.walk(t):
            for f in sorted(files):
                if f.endswith((".cpp", ".h", ".hpp", ".cc")):
                    yield os.path.join(root, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=DEFAULT_DIRS, help="folders or files (default: %(default)s)")
    ap.add_argument("-n", type=int, default=15, help="rows to print")
    ap.add_argument("--over", type=int, default=0, help="print every function longer than this instead")
    args = ap.parse_args()
    rows = []
    for path in source_files([t for t in args.targets if os.path.exists(t)]):
        rows += [(lines, path, line, name) for name, line, lines in functions(path)]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    if args.over:
        rows = [r for r in rows if r[0] > args.over]
    else:
        rows = rows[: args.n]
    print("| lines | function | where |\n|---:|---|---|")
    for lines, path, line, name in rows:
        print(f"| {lines} | `{name}` | {path}:{line} |")


if __name__ == "__main__":
    sys.exit(main())
