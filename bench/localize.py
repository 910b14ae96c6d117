"""File and function localisation on SWE-bench-format issues, against a plain BM25 baseline (not a test).

    python bench/localize.py --data swe_bench_lite.jsonl --clones '/src/{owner}+{name}' \\
        --storage /tmp/loc --split tuning                       # ingest what is missing, then score
    python bench/localize.py ... --split held-out               # the repos kept aside (HELD_OUT)
    python bench/localize.py ... --ablation                     # the table in docs/quality.md
    python bench/localize.py ... --set evidence_weight=0        # one settings change
    python bench/localize.py ... --misses                       # where the right file ranked
    python bench/localize.py ... --variant 'no graph=graph_weight=0'  # per language, one row per variant

Input: SWE-bench JSONL (`instance_id, repo, base_commit, problem_statement, patch`, one instance
per line; SWE-bench Lite is public, e.g. `princeton-nlp/SWE-bench_Lite` on Hugging Face) and a
local clone of each repo (`--clones` is a pattern over `{owner}` and `{name}`). Each instance is
ingested as its own project, `swe/<instance_id>`, at its base commit, oldest first: an
instance's files unchanged since an earlier instance of the same repo have their vectors copied,
not embedded again (the ingester's reuse across projects of one source). `--include-for
sympy/sympy=sympy/` limits a big repo to its package folder; the figures say so.

Also read (per row, by their fields; `--data` repeatable): MULocBench (KenSu223/LocAgent,
`evaluation/datasets/mulocbench/mulocbench.jsonl`; gold = `file_loc`'s files; a row is kept only
when a child of its base commit, on any ref of the clone, changes exactly those files — some rows'
base commit is the fix itself — and that child's diff gives the function gold) and Multi-SWE-bench
(multi-swe-bench/multi-swe-bench at 855ca03b, `mswebench_dataset/<language>/*.jsonl`; question =
the resolved issues' titles and bodies, base = `base.sha`, gold = `fix_patch`'s files). Their
repositories' ids are `owner/name` as the files spell them. nvbn/thefuck, scrapy/scrapy,
Textualize/rich and FasterXML/jackson-core are kept for an independent check: only `--split check`
reads them. `--graph-weights 0,0.5,1,2` prints the graph's ablation per language (and pooled).

The issue text is the question; the answer is the files (and functions) the fix's `patch`
changes. Two Acc@k, both printed and named: **any-gold Acc@k** (a changed file is in the first k
files — the issue's (#27) definition, the one its targets are judged on) and **all-gold Acc@k**
(every changed file is in the first k: SWE-bench-style papers' stricter form, near 0 at k = 1 when a
fix also touches tests or docs); MRR: 1 / rank of the first changed file.
Function level: the functions and classes (innermost, qualified: `Class.method`)
whose lines the patch changes, read from the base commit with `ast`; both Acc@k as for files, over
the first k located functions (for Java, Go and JS/TS the definitions come from ragqa's own
tree-sitter table, the only parser of those languages at hand). In the same run, a 20-line
baseline: BM25 (bm25s) over whole files of the instance's language in the same selection, the
issue text as the query.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import percentile
from bench.quality import setting_change

HELD_OUT = ("psf/requests", "pallets/flask", "pytest-dev/pytest", "mwaskom/seaborn", "pylint-dev/pylint",
            # #27's held-out set beyond SWE-bench: small MULocBench and Multi-SWE-bench Java repos,
            # chosen for size before any run, never tuned on.
            "Z4nzu/hackingtool", "hacksider/Deep-Live-Cam", "ageitgey/face_recognition",
            "OpenInterpreter/open-interpreter", "meta-llama/llama",
            "fasterxml/jackson-dataformat-xml", "googlecontainertools/jib")
# Kept for an independent check (#27): in no split but `check` (nor in `all`); compared lower-case.
CHECK = ("nvbn/thefuck", "scrapy/scrapy", "textualize/rich", "fasterxml/jackson-core")
KS = (1, 3, 5, 10)
# Every table's score columns: any-gold Acc@k (the issue's), all-gold Acc@k, MRR, function level.
COLUMNS = (("file_any@1", "any Acc@1"), ("file_any@5", "any Acc@5"), ("file_any@10", "any Acc@10"),
           ("file@1", "all Acc@1"), ("file@5", "all Acc@5"), ("file_mrr", "MRR"),
           ("func_any@1", "func any Acc@1"), ("func_any@5", "func any Acc@5"), ("func@5", "func all Acc@5"))
HEADER = " | ".join(label for _, label in COLUMNS)
ABLATION: list[tuple[str, dict[str, Any]]] = [
    ("ask's retrieval (no report reading)", {"read_reports": False}),
    ("**defaults**", {}),
    ("− evidence ranking", {"evidence_weight": 0.0}),
    ("+ title, errors and code blocks embedded apart (4 parts)", {"report_parts": 4}),
    ("+ title and first error embedded apart (2 parts)", {"report_parts": 2}),
    ("− reports demote docs", {"report_demotion": 1.0}),
    ("dense off", {"dense_weight": 0.0}),
    ("lexical off", {"lexical_weight": 0.0}),
]


@dataclass
class Instance:
    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    patch: str
    created_at: str = ""
    files: list[str] = field(default_factory=list)  # changed by the patch
    functions: list[str] = field(default_factory=list)  # "path:Qualified.name" changed by the patch
    language: str = "Python"  # Multi-SWE-bench: the language most of the fix's files are in
    needs_child: bool = False  # MULocBench: keep only when a child of the base commit changes `files`

    @property
    def project(self) -> str:
        return f"swe/{self.instance_id}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, action="append",
                        help="SWE-bench, MULocBench or Multi-SWE-bench JSONL (repeatable)")
    parser.add_argument("--clones", required=True,
                        help="local clone per repo: a pattern over {owner}, {name}")
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--split", choices=["tuning", "held-out", "check", "all"], default="tuning")
    parser.add_argument("--repos", help="only these repos (comma-separated owner/name)")
    parser.add_argument("--include-for", action="append", default=[], metavar="REPO=GLOB",
                        help="ingest only paths matching GLOB for REPO (repeatable)")
    parser.add_argument("--limit", type=int, help="at most N instances per repo")
    parser.add_argument("--ingest-only", action="store_true")
    parser.add_argument("--refresh", action="store_true",
                        help="ingest again even the instances already there (a changed selection rule)")
    parser.add_argument("--present-only", action="store_true",
                        help="score only the instances already ingested (no ingest)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--graph-weights", type=lambda text: [float(item) for item in text.split(",")],
                        metavar="W,W,...", help="per language, the scores at each RAGQA_GRAPH_WEIGHT")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=KEY=JSON[;KEY=JSON]",
                        help="one row per language (and pooled) per variant: the defaults with these "
                             "settings changed (repeatable; `LABEL=` alone is the defaults)")
    parser.add_argument("--misses", action="store_true", help="print each instance's rank of the right file")
    parser.add_argument("--top-k", type=int, default=10)
    args = parser.parse_args()
    rows = [instance for path in args.data for instance in load(path)]
    instances = select(rows, args.split, args.repos, None)
    includes = dict(item.split("=", 1) for item in args.include_for)
    clones = {repo: Path(args.clones.format(owner=repo.split("/")[0], name=repo.split("/")[1]))
              for repo in {instance.repo for instance in instances}}
    instances = select(fixed_by_a_child(instances, clones), args.split, None, args.limit)
    for instance in instances:
        instance.files = instance.files or changed_files(instance.patch)
        instance.functions = changed_functions(clones[instance.repo], instance)
    if args.present_only:
        instances = present(args.storage, instances)
        ingest_times: dict[str, float] = {}
    else:
        ingest_times = ingest(args.storage, instances, clones, includes, args.refresh)
    if args.ingest_only:
        return
    changes = dict(setting_change(item) for item in args.set)
    if args.ablation:
        print(f"| variant | n | {HEADER} |")
        print("|---|---|" + "---|" * len(COLUMNS))
        for label, variant in ABLATION:
            scores = score_ragqa(args.storage, instances, {**changes, **variant}, args.top_k)
            print(f"| {label} | {len(instances)} | {_cells(scores)} |", flush=True)
        return
    if args.graph_weights or args.variant:
        variants = [(f"graph weight {weight:g}", {**changes, "graph_weight": weight})
                    for weight in args.graph_weights or []]
        variants += [(label, {**changes, **dict(setting_change(item) for item in body.split(";") if item)})
                     for label, body in (text.split("=", 1) for text in args.variant)]
        sweep(args.storage, instances, args.top_k, variants)
        return
    report(args.storage, instances, clones, includes, changes, args.top_k, args.misses, ingest_times)


def load(path: Path) -> list[Instance]:
    """Instances of any of the three formats, told apart by their fields (per row)."""
    instances = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            instances.append(from_row(json.loads(line)))
    return instances


def from_row(row: dict[str, Any]) -> Instance:
    """One row of SWE-bench, MULocBench (`file_loc`) or Multi-SWE-bench (`fix_patch`) as an Instance.

    MULocBench's gold is `file_loc`'s files (its `patch` is often empty); since some rows' base
    commit is the fix itself, such a row is kept only when a child of its base commit changes
    exactly those files (`fixed_by_a_child`). Multi-SWE-bench rows are pull requests: the question
    is the resolved issues' titles and bodies, the base commit `base.sha`, the gold `fix_patch`'s
    files. Fields stored as Python literals in the published files are read with `ast.literal_eval`.
    """
    if "fix_patch" in row:
        base = _literal(row["base"])
        issues = _literal(row.get("resolved_issues") or "[]")
        question = "\n\n".join(f"{issue.get('title') or ''}\n\n{issue.get('body') or ''}".strip()
                                for issue in issues) or f"{row.get('title', '')}\n\n{row.get('body') or ''}"
        return Instance(instance_id=row["instance_id"], repo=f"{row['org']}/{row['repo']}",
                        base_commit=base["sha"], problem_statement=question, patch=row["fix_patch"],
                        language=_language(changed_files(row["fix_patch"])))
    instance = Instance(**{key: row.get(key, "") for key in ("instance_id", "repo", "base_commit",
                                                             "problem_statement", "patch", "created_at")})
    if "file_loc" in row:
        location = _literal(row["file_loc"])
        instance.files = list(dict.fromkeys(entry["path"] for entry in location.get("files", [])))
        instance.needs_child = True
    return instance


LANGUAGES = {".py": "Python", ".java": "Java", ".go": "Go", ".ts": "TS/JS", ".tsx": "TS/JS",
             ".js": "TS/JS", ".jsx": "TS/JS", ".mjs": "TS/JS"}


def _language(paths: list[str]) -> str:
    found = [LANGUAGES[Path(path).suffix] for path in paths if Path(path).suffix in LANGUAGES]
    return max(set(found), key=found.count) if found else "other"


def _literal(value: Any) -> Any:
    return ast.literal_eval(value) if isinstance(value, str) else value


def fixed_by_a_child(instances: list[Instance], clones: dict[str, Path]) -> list[Instance]:
    """The instances, less MULocBench rows whose base commit has no child changing exactly the gold."""
    children: dict[str, dict[str, list[str]]] = {}
    kept = []
    for instance in instances:
        if not instance.needs_child:
            kept.append(instance)
            continue
        clone = clones[instance.repo]
        if instance.repo not in children:
            children[instance.repo] = _children(clone)
        gold = set(instance.files)
        fix = next((child for child in children[instance.repo].get(instance.base_commit, [])
                    if set(_git(clone, "diff-tree", "--no-commit-id", "--name-only", "-r",
                                instance.base_commit, child).splitlines()) == gold), None)
        if gold and fix:
            instance.patch = instance.patch or _git(clone, "diff", instance.base_commit, fix)  # function gold
            kept.append(instance)
    return kept


def _children(clone: Path) -> dict[str, list[str]]:
    """Each commit's children over all refs of a clone."""
    found: dict[str, list[str]] = {}
    for line in _git(clone, "rev-list", "--all", "--parents").splitlines():
        commit, *parents = line.split()
        for parent in parents:
            found.setdefault(parent, []).append(commit)
    return found


def select(instances: list[Instance], split: str, repos: str | None, limit: int | None) -> list[Instance]:
    wanted = set(repos.split(",")) if repos else None
    chosen = [instance for instance in instances
              if (wanted is None or instance.repo in wanted)
              and _in_split(instance.repo, split)]
    chosen.sort(key=lambda instance: (instance.repo, instance.created_at, instance.instance_id))
    if limit:
        by_repo: dict[str, list[Instance]] = {}
        for instance in chosen:
            by_repo.setdefault(instance.repo, []).append(instance)
        chosen = [instance for group in by_repo.values() for instance in group[:limit]]
    return chosen


def _in_split(repo: str, split: str) -> bool:
    if repo.lower() in CHECK:
        return split == "check"
    return split == "all" or (repo in HELD_OUT) == (split == "held-out")


def changed_files(patch: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"^diff --git a/(\S+) b/", patch, re.MULTILINE)))


def changed_functions(clone: Path, instance: Instance) -> list[str]:
    """The innermost functions and classes whose lines (at the base commit) the patch changes."""
    found: list[str] = []
    for path, lines in _changed_lines(instance.patch).items():
        source = _git(clone, "show", f"{instance.base_commit}:{path}", check=False)
        spans = _spans(path, source)
        for line in sorted(lines):
            inner = [(end - start, name) for name, start, end in spans if start <= line <= end]
            if inner:
                found.append(f"{path}:{min(inner)[1]}")
    return list(dict.fromkeys(found))


def _spans(path: str, source: str) -> list[tuple[str, int, int]]:
    """A file's definitions: `ast` for Python; for Java, Go, JS/TS ragqa's own tree-sitter table
    (the names `locate` reports), since no second parser of those languages is at hand."""
    if path.endswith(".py"):
        try:
            return list(_definitions(ast.parse(source).body, ""))
        except (SyntaxError, ValueError):
            return []
    if Path(path).suffix not in LANGUAGES or not source:
        return []
    from ragqa.chunking import read_file

    return [(item.name, item.start_line, item.end_line) for item in read_file(path, source).definitions]


def _changed_lines(patch: str) -> dict[str, set[int]]:
    """Per file, the base-commit lines a patch removes or inserts next to."""
    changed: dict[str, set[int]] = {}
    path, line = "", 0
    for text in patch.splitlines():
        if text.startswith("--- "):
            path = text[6:] if text.startswith("--- a/") else ""
        elif text.startswith("@@"):
            match = re.match(r"@@ -(\d+)", text)
            line = int(match.group(1)) if match else 0
        elif path and text.startswith("-") and not text.startswith("---"):
            changed.setdefault(path, set()).add(line)
            line += 1
        elif path and text.startswith("+") and not text.startswith("+++"):
            changed.setdefault(path, set()).add(max(line - 1, 1))
        elif path and text.startswith(" "):
            line += 1
    return changed


def _definitions(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, int, int]]:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            yield name, start, node.end_lineno or node.lineno
            yield from _definitions(node.body, f"{name}.")


def present(storage: Path, instances: list[Instance]) -> list[Instance]:
    """The instances whose project is ingested at their base commit."""
    from ragqa.answer import Answerer

    registry = Answerer(_settings(storage, {}), llm=None).registry
    commits = {record.name: record.commit for record in registry.all()}
    return [instance for instance in instances if commits.get(instance.project) == instance.base_commit]


def ingest(storage: Path, instances: list[Instance], clones: dict[str, Path],
           includes: dict[str, str], refresh: bool = False) -> dict[str, float]:
    """Ingest each instance's project unless it is there at its base commit; seconds per instance."""
    from ragqa.errors import RagqaError
    from ragqa.ingest import Ingester, IngestRequest

    ingester = Ingester(_settings(storage, {}))
    present = {record.name: record.commit for record in ingester.projects()}
    times: dict[str, float] = {}
    for number, instance in enumerate(instances, 1):
        if present.get(instance.project) == instance.base_commit and not refresh:
            continue
        include = includes.get(instance.repo)
        started = time.perf_counter()
        try:
            summary = ingester.ingest(IngestRequest(
                source=str(clones[instance.repo]), name=instance.project, ref=instance.base_commit,
                web_url=f"https://github.com/{instance.repo}", include=[include] if include else None))
        except RagqaError as error:
            print(f"[{number}/{len(instances)}] {instance.project}: not ingested: {error}", file=sys.stderr)
            continue
        times[instance.instance_id] = time.perf_counter() - started
        print(f"[{number}/{len(instances)}] {instance.project}: {summary.chunks} chunks, "
              f"{summary.embedded} embedded, {summary.reused} reused, {times[instance.instance_id]:.0f} s",
              file=sys.stderr, flush=True)
    return times


def score_ragqa(storage: Path, instances: list[Instance], changes: dict[str, Any], top_k: int,
                details: dict[str, Any] | None = None) -> dict[str, float]:
    """Locate each instance's issue; Acc@k and MRR at file and function level."""
    from ragqa.answer import Answerer

    answerer = Answerer(_settings(storage, changes), llm=None)
    file_ranks, function_hits, timings = [], [], []
    for instance in instances:
        answerer.locate(instance.problem_statement, instance.project, top_k=top_k)  # opens the project
        started = time.perf_counter()
        located = answerer.locate(instance.problem_statement, instance.project, top_k=top_k)
        timings.append(time.perf_counter() - started)
        files = [entry.path for entry in located.files]
        found = sorted(((symbol.score, f"{entry.path}:{symbol.name}") for entry in located.files
                        for symbol in entry.symbols), key=lambda item: -item[0])  # stable: file order on ties
        functions = list(dict.fromkeys(name for _, name in found))
        file_ranks.append(_ranks(files, instance.files))
        if instance.functions:
            function_hits.append(_ranks(functions, instance.functions))
        if details is not None:
            details[instance.instance_id] = {"files": files[:5], "ranks": file_ranks[-1],
                                             "reasons": [entry.reasons[:2] for entry in located.files[:3]]}
        answerer.forget(instance.project)  # one project open at a time
    return {**_metrics(file_ranks, "file"), **_metrics(function_hits, "func"),
            "locate_p50_ms": 1000 * statistics.median(timings) if timings else 0.0,
            "locate_p95_ms": 1000 * percentile(timings, 0.95) if timings else 0.0}


def sweep(storage: Path, instances: list[Instance], top_k: int, variants: list[tuple[str, dict[str, Any]]]
          ) -> None:
    """An ablation: per language (and pooled), the scores of each variant (settings changes)."""
    by_language: dict[str, list[Instance]] = {}
    for instance in instances:
        by_language.setdefault(instance.language, []).append(instance)
    print(f"| language | n | variant | {HEADER} | func n |")
    print("|---|---|---|" + "---|" * (len(COLUMNS) + 1))
    for label, variant in variants:
        rows = [(language, len(group), score_ragqa(storage, group, variant, top_k))
                for language, group in sorted(by_language.items())]
        if len(rows) > 1:
            rows.append(("**pooled**", len(instances), _pooled([scores for _, _, scores in rows])))
        for language, count, scores in rows:
            print(f"| {language} | {count} | {label} | {_cells(scores)} | {scores.get('func_n', 0):.0f} |",
                  flush=True)


def _pooled(groups: list[dict[str, float]]) -> dict[str, float]:
    """Means over all instances from per-group means (weighted by each group's count)."""
    pooled: dict[str, float] = {}
    for level in ("file", "func"):
        total = sum(scores.get(f"{level}_n", 0.0) for scores in groups)
        pooled[f"{level}_n"] = total
        for key in [f"{level}{kind}@{k}" for kind in ("", "_any") for k in KS] + [f"{level}_mrr"]:
            pooled[key] = sum(scores.get(key, 0.0) * scores.get(f"{level}_n", 0.0)
                              for scores in groups) / total if total else 0.0
    return pooled


def _cells(scores: dict[str, float]) -> str:
    return " | ".join(f"{scores[key]:.3f}" if key in scores else "–" for key, _ in COLUMNS)


def _timing(scores: dict[str, float]) -> str:
    if "locate_p50_ms" not in scores:
        return "–"
    return f"{scores['locate_p50_ms']:.0f} / {scores['locate_p95_ms']:.0f}"


def score_bm25(instances: list[Instance], clones: dict[str, Path], includes: dict[str, str]
               ) -> dict[str, float]:
    """The baseline: bm25s over whole files of the instance's language (the ingest's include rule)."""
    import bm25s

    file_ranks = []
    for instance in instances:
        suffixes = tuple(suffix for suffix, language in LANGUAGES.items() if language == instance.language)
        paths, texts = _code_files(clones[instance.repo], instance.base_commit, includes.get(instance.repo),
                                   suffixes or (".py",))
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        query = bm25s.tokenize([instance.problem_statement], stopwords="en", show_progress=False)
        found, _ = retriever.retrieve(query, k=min(10, len(paths)), show_progress=False)
        file_ranks.append(_ranks([paths[int(row)] for row in found[0]], instance.files))
    return _metrics(file_ranks, "file")


def _code_files(clone: Path, commit: str, include: str | None, suffixes: tuple[str, ...]
                ) -> tuple[list[str], list[str]]:
    listing = _git(clone, "ls-tree", "-r", "--name-only", commit).splitlines()
    rule = pathspec.GitIgnoreSpec.from_lines([include]) if include else None
    paths = [path for path in listing if path.endswith(suffixes)
             and (rule is None or rule.match_file(path))]
    done = subprocess.run(["git", "-C", str(clone), "cat-file", "--batch"], capture_output=True, check=True,
                          input="".join(f"{commit}:{path}\n" for path in paths).encode())
    kept_paths, texts = [], []
    for path, text in zip(paths, _split_batch(done.stdout, len(paths)), strict=True):
        if text is not None:
            kept_paths.append(path)
            texts.append(text)
    return kept_paths, texts


def _split_batch(data: bytes, count: int) -> list[str | None]:
    """The texts `git cat-file --batch` printed, in order (None for a missing object)."""
    texts: list[str | None] = []
    position = 0
    for _ in range(count):
        header_end = data.index(b"\n", position)
        header = data[position:header_end].split()
        if header[-1] == b"missing":
            texts.append(None)
            position = header_end + 1
            continue
        size = int(header[2])
        texts.append(data[header_end + 1:header_end + 1 + size].decode("utf-8", "replace"))
        position = header_end + 1 + size + 1
    return texts


def _ranks(ranked: list[str], gold: list[str]) -> list[int]:
    """The 1-based rank of each gold item (0 when it was not found)."""
    return [ranked.index(item) + 1 if item in ranked else 0 for item in gold]


def _metrics(all_ranks: list[list[int]], level: str) -> dict[str, float]:
    """Per k, all-gold (`file@k`) and any-gold (`file_any@k`) Acc@k; MRR; the count scored."""
    if not all_ranks:
        return {}
    result = {}
    for k in KS:
        hits = sum(all(0 < rank <= k for rank in ranks) for ranks in all_ranks)
        result[f"{level}@{k}"] = hits / len(all_ranks)
        any_hits = sum(any(0 < rank <= k for rank in ranks) for ranks in all_ranks)
        result[f"{level}_any@{k}"] = any_hits / len(all_ranks)
    result[f"{level}_mrr"] = sum(1 / min((r for r in ranks if r), default=float("inf"))
                                 for ranks in all_ranks) / len(all_ranks)
    result[f"{level}_n"] = len(all_ranks)
    return result


def report(storage: Path, instances: list[Instance], clones: dict[str, Path], includes: dict[str, str],
           changes: dict[str, Any], top_k: int, misses: bool, ingest_times: dict[str, float]) -> None:
    print(f"| repo | n | method | {HEADER} | warm locate p50 / p95 ms |")
    print("|---|---|---|" + "---|" * (len(COLUMNS) + 1))
    by_repo: dict[str, list[Instance]] = {}
    for instance in instances:
        by_repo.setdefault(instance.repo, []).append(instance)
    by_language: dict[str, list[Instance]] = {}
    for instance in instances:
        by_language.setdefault(instance.language, []).append(instance)
    groups = list(by_repo.items())
    if len(by_language) > 1:
        groups += [(f"**{language}**", group) for language, group in sorted(by_language.items())]
    groups += [("**all**", instances)] if len(by_repo) > 1 else []
    details: dict[str, Any] = {}
    for repo, group in groups:
        label = f"{repo} ({includes[repo]} only)" if repo in includes else repo
        for method, scores in (("ragqa", score_ragqa(storage, group, changes, top_k, details)),
                               ("BM25 (bm25s)", score_bm25(group, clones, includes))):
            print(f"| {label} | {len(group)} | {method} | {_cells(scores)} | {_timing(scores)} |", flush=True)
    if ingest_times:
        print(f"\ningest: {len(ingest_times)} instances, {sum(ingest_times.values()):.0f} s in all")
    if misses:
        for instance_id, entry in details.items():
            print(instance_id, entry["ranks"], entry["files"][:3], entry["reasons"])


def _settings(storage: Path, changes: dict[str, Any]) -> Any:
    from ragqa.settings import Settings

    return Settings(storage_dir=storage, llm="none", _env_file=None, **changes)  # type: ignore[call-arg]


def _git(clone: Path, *args: str, check: bool = True, input_text: str | None = None) -> str:
    done = subprocess.run(["git", "-C", str(clone), *args], capture_output=True, input=input_text,
                          text=True, errors="surrogateescape", check=check)
    return done.stdout


if __name__ == "__main__":
    main()
