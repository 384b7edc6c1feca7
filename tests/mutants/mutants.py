#!/usr/bin/env python3
"""Reads tests/mutants/mutants.txt for `./build.sh mutants`.

  mutants.py list LIST              one line per mutant: NAME<TAB>WHAT
  mutants.py check LIST ROOT        every search text occurs exactly once under ROOT
  mutants.py apply LIST NAME ROOT   apply mutant NAME to the tree at ROOT

Any search text that is missing or ambiguous is an error (exit 2): a mutant that no longer
applies must fail loudly, never run as an unmutated "survivor".
"""
import os
import sys


def parse(path):
    mutants, cur, edit, block = [], None, None, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines, 1):
        if block is not None:
            if line in ("@@ replace", "@@ end"):
                edit[block] = "\n".join(edit[block + "_lines"])
                if line == "@@ replace":
                    block = "replace"
                    edit["replace_lines"] = []
                else:
                    block = None
                    cur["edits"].append(edit)
                    edit = None
            else:
                edit[block + "_lines"].append(line)
            continue
        if not line.strip() or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "mutant":
            cur = {"name": rest.strip(), "what": "", "edits": []}
            mutants.append(cur)
        elif word == "what" and cur:
            cur["what"] = rest.strip()
        elif word == "file" and cur:
            edit = {"file": rest.strip()}
        elif line == "@@ search" and edit is not None:
            block = "search"
            edit["search_lines"] = []
        else:
            sys.exit(f"{path}:{no}: cannot parse: {line!r}")
    if block is not None:
        sys.exit(f"{path}: a block is not closed with @@ end")
    for m in mutants:
        if not m["edits"] or any("replace" not in e or not e["search"] for e in m["edits"]):
            sys.exit(f"{path}: mutant {m['name']} has no edit or an edit without search/replace")
    return mutants


def problems(mutant, root, apply):
    found = []
    texts = {}
    for e in mutant["edits"]:
        p = os.path.join(root, e["file"])
        if p not in texts:
            try:
                with open(p, encoding="utf-8") as f:
                    texts[p] = f.read()
            except OSError as err:
                found.append(f"{mutant['name']}: {e['file']}: {err.strerror}")
                continue
        n = texts[p].count(e["search"])
        if n != 1:
            found.append(f"{mutant['name']}: {e['file']}: search text found {n} times (must be once):\n{e['search']}")
            continue
        texts[p] = texts[p].replace(e["search"], e["replace"], 1)
    if apply and not found:
        for p, t in texts.items():
            with open(p, "w", encoding="utf-8") as f:
                f.write(t)
    return found


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, mutants = argv[1], parse(argv[2])
    if cmd == "list":
        for m in mutants:
            print(f"{m['name']}\t{m['what']}")
    elif cmd == "check" and len(argv) == 4:
        bad = [p for m in mutants for p in problems(m, argv[3], apply=False)]
        for p in bad:
            print(f"mutant does not apply: {p}", file=sys.stderr)
        if bad:
            sys.exit(2)
        print(f"{len(mutants)} mutants apply")
    elif cmd == "apply" and len(argv) == 5:
        m = next((m for m in mutants if m["name"] == argv[3]), None)
        if m is None:
            sys.exit(f"no mutant named {argv[3]}")
        bad = problems(m, argv[4], apply=True)
        for p in bad:
            print(f"mutant does not apply: {p}", file=sys.stderr)
        if bad:
            sys.exit(2)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
