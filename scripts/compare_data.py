"""Compare two pipeline data/ trees (a refactor must not change outputs): `python scripts/compare_data.py A B`.

Parquet files: row ids, drop reasons, splits, texts, languages and sources (as digests) and the columns; JSON
files: every value, recursively. Ignored: keys that are timestamps, durations, absolute paths or code and lock
hashes (IGNORE), values that are absolute paths, the zoo, abliterated models and caches. Prints each differing
file with its differences, then a count.
"""
import hashlib
import json
import re
import sys
from pathlib import Path
import pyarrow.parquet as pq

A, B = Path(sys.argv[1]), Path(sys.argv[2])
IGNORE = re.compile(r"(time|_at$|created|date|duration|seconds|elapsed|git|commit|dvc_lock|stage_hashes|inputs|"
                    r"md5|hostname|python|versions|packages|wall|rate_per|throughput|^path$|cache)", re.I)

def walk(x, y, where, out):
    """Append to `out` every difference between JSON values `x` and `y` below `where`."""
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if IGNORE.search(str(k)):
                continue
            if k not in x or k not in y:
                out.append(f"{where}.{k}: only in {'A' if k in x else 'B'}")
                continue
            walk(x[k], y[k], f"{where}.{k}", out)
    elif isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            out.append(f"{where}: list length {len(x)} vs {len(y)}")
        for i, (p, q) in enumerate(zip(x, y)):
            walk(p, q, f"{where}[{i}]", out)
    elif x != y:
        if isinstance(x, str) and isinstance(y, str) and (x.startswith("/") or y.startswith("/")):
            return
        if isinstance(x, float) and isinstance(y, float) and x != x and y != y:
            return
        out.append(f"{where}: {str(x)[:100]!r} vs {str(y)[:100]!r}")

def table_digest(path):
    """Digests of the columns that identify rows and their outcome, the row count and the column names."""
    t = pq.read_table(path)
    cols = t.column_names
    digest = {}
    for c in ("id", "drop_reason", "split", "kept", "toxic", "neutral", "text", "lang", "source"):
        if c in cols:
            digest[c] = hashlib.sha256(json.dumps(t.column(c).to_pylist(), default=str).encode()).hexdigest()[:16]
    digest["rows"] = t.num_rows
    digest["columns"] = cols
    return digest

SKIP = ("models/zoo", "cache", "models/abliterated")


def files(root):
    return {p.relative_to(root) for p in root.rglob("*")
            if p.is_file() and not any(str(p.relative_to(root)).startswith(s) for s in SKIP)}


files_a, files_b = files(A), files(B)
for rel in sorted(files_a ^ files_b):
    print(f"ONLY IN {'A' if rel in files_a else 'B'}: {rel}")
same = identical = differ = 0
for rel in sorted(files_a & files_b):
    a, b = A / rel, B / rel
    if a.read_bytes() == b.read_bytes():
        identical += 1
        continue
    out = []
    if rel.suffix == ".parquet":
        da, db = table_digest(a), table_digest(b)
        out = [f"{k}: {da.get(k)} vs {db.get(k)}" for k in sorted(set(da) | set(db)) if da.get(k) != db.get(k)]
        if not out:
            out = ["(bytes differ, same ids/texts/reasons)"]
    elif rel.suffix == ".json":
        walk(json.loads(a.read_text()), json.loads(b.read_text()), "", out)
    elif rel.suffix in (".csv", ".txt", ".md", ".yaml", ".jsonl"):
        la, lb = a.read_text().splitlines(), b.read_text().splitlines()
        out = [f"line {i}: {x[:90]!r} vs {y[:90]!r}" for i, (x, y) in enumerate(zip(la, lb)) if x != y]
        if len(la) != len(lb):
            out.append(f"lines {len(la)} vs {len(lb)}")
    else:
        out = ["(binary differs)"]
    if out:
        differ += 1
        print(f"== {rel}")
        for line in out[:12]:
            print("   ", line)
    else:
        same += 1
print(f"\n{identical} files byte-identical, {same} equal up to ignored keys, {differ} differ")
