"""The one place ragqa reads configuration from: `RAGQA_*` environment variables and `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragqa import languages
from ragqa.places import MAX_QUESTION_CHARS, STORAGE_MARKER, STORAGE_PARTS, find_storage

__all__ = ["STORAGE_MARKER", "STORAGE_PARTS", "Settings", "find_storage"]


class Settings(BaseSettings):
    """All knobs, with defaults that work offline on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", env_file=".env", extra="ignore")

    storage_dir: Path = Field(
        default_factory=lambda: find_storage(Path.cwd()),
        json_schema_extra={"shown_default": "found: ./storage or a parent's, else the user data folder"},
        description="Clones, the embedded Chroma, keyword indexes, locks. Unset: a `storage/` holding "
                    "a ragqa index in this folder or a parent, else the user data folder.")
    chroma_url: str | None = Field(
        None, description="A Chroma server (http://host:port); unset means embedded Chroma."
    )

    embedder: str = Field(
        "local", description="Embedding backend: 'local' (the bundled model), 'local-int8' (its int8 copy: "
                             "1.5× faster ingest, a vector space of its own), 'openai' or 'wordllama'.")
    embed_model: str | None = Field(
        None, description="Model name for the backend (local: a path; openai: a model id)."
    )
    embed_batch_size: int = Field(32, ge=1, le=2048, description="Texts per embedding call.")
    embed_concurrency: int = Field(
        4, ge=1, le=64,
        description="Batches in flight at once to a remote embeddings server (openai backend).")
    onnx_dir: Path | None = Field(
        None, description="Where the local model's one-time ONNX export is kept (default storage/models).")
    openai_api_key: SecretStr | None = Field(
        None, validation_alias="OPENAI_API_KEY",
        description="OpenAI's key: the openai embedder, and the model when RAGQA_LLM_API_KEY is unset.")
    openai_base_url: str | None = Field(
        None, validation_alias="OPENAI_BASE_URL", description="Base URL of the openai embedder's server.")

    max_file_bytes: int = Field(1_000_000, ge=1, description="Larger files are skipped.")
    redact_secrets: bool = Field(
        True, description="Replace secrets found in file text (detect-secrets) by markers before indexing.")
    chunk_max_lines: int = Field(60, ge=5, description="Longest chunk, in lines.")
    chunk_max_chars: int = Field(2_400, ge=200, description="Longest chunk, in characters.")

    git_token: SecretStr | None = Field(
        None, description="Token for private https repos; sent as a header, never stored."
    )
    git_username: str = Field("x-access-token", description="User name sent with git_token.")
    git_timeout_s: int = Field(600, ge=5, description="Longest a clone or fetch may take.")

    default_project: str | None = Field(
        None, description="Project asked when none is named (else the only one, if just one).")
    top_k: int = Field(5, ge=1, le=50, description="Sources an answer is built from.")
    retrieve_candidates: int = Field(40, ge=5, le=500, description="Hits taken from each retriever.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the embedding ranking in fusion.")
    lexical_weight: float = Field(1.0, ge=0, description="Weight of the BM25F ranking in fusion.")
    symbol_weight: float = Field(
        1.0, ge=0, description="Weight of the ranking of chunks that define a name in the question.")
    graph_weight: float = Field(
        0.5, ge=0, description="Weight in fusion of the code-graph ranking of a report (`locate`): "
                               "the evidence spread to callers, callees, containing definitions, "
                               "subclasses and sibling modules; 0 turns it off (docs/quality.md).")
    graph_normalise: bool = Field(
        True, description="For `locate`, scale the graph ranking's strengths so its best chunk counts 1 "
                          "in fusion; off (and always for `ask`) they are the walk's raw visit shares, "
                          "a few hundredths, and the graph barely moves a ranking (docs/quality.md).")
    graph_seed_chunks: int = Field(
        10, ge=0, le=100, description="The fused ranking's best chunks that seed the graph's walk.")
    graph_file_weight: float = Field(
        0.0, ge=0, description="Weight in fusion of the graph's file ranking (each file's walk mass "
                               "summed over its definitions, standing as the file's best walked chunk).")
    field_weights: dict[str, float] = Field(
        default_factory=lambda: {"body": 1.0, "path": 0.0, "symbol": 0.0, "heading": 0.0},
        description="BM25F: weight of a match in a chunk's body (which holds its location too) and, "
                    "on top, in its path, symbol and heading path (off by default: docs/quality.md).")
    intent_docs_bias: dict[str, float] = Field(
        default_factory=lambda: {"usage": 1.5, "locate": 0.7, "behaviour": 1.0, "explain": 1.0,
                                 "other": 1.2},
        description="Docs chunks' scores are multiplied by this, per question intent (code: 1).")
    test_paths: list[str] = Field(
        default_factory=lambda: list(dict.fromkeys([
            "test/", "tests/", "testing/", "__tests__/", "spec/", "test_*.*", "*_test.*", "*.test.*",
            "*_spec.*", "conftest.py", *languages.union("test_paths")])),
        description="Gitignore globs of a project's own tests: ranked lower unless asked about "
                    "(by default every language's, from `ragqa.languages`).")
    example_paths: list[str] = Field(
        default_factory=lambda: list(dict.fromkeys(["doc/", "docs/", "examples/", "example/",
                                                    *languages.union("example_paths")])),
        description="Gitignore globs of example code kept with the docs: ranked like docs for a pasted "
                    "report.")
    changelog_paths: list[str] = Field(
        default_factory=lambda: ["CHANGELOG*", "CHANGES*", "HISTORY*", "NEWS*", "RELEASE*NOTES*",
                                 "release-notes*", "changelog*", "changes.*", "history.*", "whats-new*",
                                 "whats_new*", "whatsnew*", "release_notes*", "changelog/", "migration*",
                                 "migrating*", "upgrading*", "upgrade*"],
        description="Gitignore globs of changelogs, release notes and migration guides (like a "
                    "changelog, they name every feature): ranked lower unless asked about.")
    api_docs_paths: list[str] = Field(
        default_factory=lambda: languages.union("api_docs_paths"),
        description="Gitignore globs of code read like API docs (TypeScript `*.d.ts`, Go's testable "
                    "examples `example_test.go`): for a how-to question they rank like docs, as do "
                    "code chunks that are mostly doc comment; they are never demoted as tests.")
    package_folders: list[str] = Field(
        default_factory=lambda: ["packages", "crates", "libs", "modules", "apps", "plugins"],
        description="Folders of a monorepo whose subfolders are packages: a question naming one "
                    "(`@scope/name`, `packages/name`, `the name package`) favours its files.")
    package_lift: float = Field(
        1.3, ge=1, description="The chunks of a package the question names are multiplied by this.")
    secondary_weight: float = Field(
        0.5, ge=0, le=1, description="Tests' and changelogs' fused scores are multiplied by this.")
    file_evidence: float = Field(
        0.1, ge=0, description="A chunk's score gains this share of its file's next two best chunks'.")
    locate_file_evidence: float = Field(
        0.2, ge=0, description="`file_evidence` for `locate`, which ranks files: a file the issue's "
                               "words meet in several places is likelier the one to change.")
    max_sources_per_file: int = Field(
        2, ge=0, description="At most this many sources from one file while others have candidates "
                             "(0: no limit).")
    read_reports: bool = Field(
        True, description="Read a pasted issue, traceback or log part by part (ragqa.report) and rank "
                          "with what it points at.")
    evidence_weight: float = Field(
        1.0, ge=0, description="Weight of the report's evidence ranking (frames, quoted messages, names).")
    report_parts: int = Field(
        1, ge=1, le=8, description="A report's parts embedded apart: 1 is its title and first paragraph; "
                                   "more adds its error messages, then code blocks (measured: worse).")
    report_demotion: float = Field(
        0.5, ge=0, le=1, description="For a pasted report (unless its title is about docs), docs chunks' "
                                     "scores are multiplied by this.")
    question_blacklist: list[str] = Field(
        default_factory=lambda: ["image", "images", "graph", "graphs", "picture", "pictures", "draw",
                                 "plot", "video", "audio", "music", "flowchart", "diagram", "chart",
                                 "screenshot", "photo", "sketch"],
        description="`ragqa questions --generator llm` drops generated questions with these words "
                    "(things a text answer cannot do).")
    reranker: str = Field("none", description="Reorders the top passages: 'none', 'llm' or 'cross-encoder'.")
    reranker_model: str | None = Field(
        None, description="cross-encoder: a local folder holding a sentence-transformers CrossEncoder.")
    reranker_candidates: int = Field(20, ge=2, le=100, description="Passages the reranker reorders.")
    min_confidence: float = Field(
        0.36, ge=0, le=1, description="Below this retrieval confidence the answer is 'Hmm, I'm not sure.'")

    memory_search_max_chunks: int = Field(
        100_000, ge=0, description="Projects up to this many chunks are searched in memory (exact, "
                                   "no store round trip); larger ones through Chroma's HNSW index.")
    vector_search: str = Field(
        "auto", pattern=r"^(auto|exact|projected)$",
        description="How a project held in memory is searched: 'exact' (every vector), 'projected' (a scan "
                    "of the vectors projected on their 64 leading directions, the best 200 rescored "
                    "exactly), or 'auto': exact up to RAGQA_EXACT_SEARCH_MAX_CHUNKS, projected above "
                    "(docs/scale.md has the recall and time of each).")
    exact_search_max_chunks: int = Field(
        50_000, ge=0, description="With RAGQA_VECTOR_SEARCH=auto, projects up to this many chunks are "
                                  "searched exactly; larger ones with the projected scan.")
    all_projects_fanout: int = Field(
        16, ge=0, description="A question to several projects (`*`) searches in full only this many of "
                             "them by their best vector similarity, as many by the question words they "
                             "hold, and as many that define a name the question gives (0: every project; "
                             "docs/scale.md has what 8 and 16 keep of the full search).")
    lease_ttl_s: float = Field(
        60.0, ge=1, description="An ingest's lease on its project in the store (renewed while it runs; "
                                "taken over this long after its holder died).")
    max_concurrent_answers: int = Field(
        0, ge=0, description="Answers computed at once in a process (retrieval, extractive text); the rest "
                             "queue, over HTTP first come first served (0: two per core). A model's "
                             "streaming is not counted.")
    max_queued_answers: int = Field(
        256, ge=0, description="`ragqa serve`: answers (and locates) that may wait for a free worker; one "
                               "more is refused at once with 503 and Retry-After (0: no limit).")
    preload_projects: str = Field(
        "all", pattern=r"^(all|none|\d+)$",
        description="`ragqa serve` loads these projects at start, before /readyz is ready: 'all', 'none' "
                    "or N (the N most recently indexed).")
    project_check_s: float = Field(
        1.0, ge=0, description="How often a project's record is checked for a newer ingest (seconds).")

    llm: str = Field("auto", description="'auto' (an LLM when a key or base URL is set), 'none', 'openai'.")
    llm_model: str | None = Field(None, description="Model id (default gpt-4o-mini on OpenAI).")
    llm_base_url: str | None = Field(
        None, description="An OpenAI-compatible server: Ollama, vLLM, llama.cpp (…/v1).")
    llm_api_key: SecretStr | None = Field(None, description="Key for llm_base_url; else OPENAI_API_KEY.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Longest wait for the model, per attempt.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries on timeouts, 429 and 5xx.")
    llm_stream: bool = Field(True, description="Stream from the model (off for servers that cannot).")
    llm_temperature: float = Field(0.1, ge=0, le=2, description="The model's sampling temperature.")
    llm_context_window: int = Field(8_192, ge=1_024, description="The model's window, in tokens.")
    llm_answer_tokens: int = Field(700, ge=64, description="Tokens kept free for the answer.")
    prompts_dir: Path | None = Field(
        None, description="A folder of your own prompt templates (qa.md.j2, rerank.md.j2); a template "
                          "it lacks comes from the ones packaged with ragqa.")

    host: str = Field("127.0.0.1", description="Where `ragqa serve` listens.")
    log_format: Literal["plain", "json"] = Field(
        "plain", description="How `ragqa serve` and `ragqa mcp` log (to stderr, one record a line): "
                             "'plain' text or 'json' (one object a line: time, level, logger, message).")
    port: int = Field(8000, ge=1, le=65535, description="The port `ragqa serve` listens on.")
    server: str | None = Field(
        None, description="A ragqa server (http://host:port) that `ragqa ask` and `ragqa locate` use; "
                          "unset: the `ragqa serve` of this storage folder, found by its server.json; "
                          "'off': always answer in this process.")
    ask_tokens: SecretStr | None = Field(
        None, description="Comma-separated bearer tokens that may ask (POST /ask, chat completions).")
    admin_tokens: SecretStr | None = Field(
        None, description="Comma-separated bearer tokens that may also ingest, refresh and delete.")
    rate_limit_per_minute: int = Field(
        120, ge=0, description="Requests per minute per token (per client address without tokens); 0 = off.")
    max_body_bytes: int | None = Field(
        None, ge=1_024, description="Largest request body accepted (default: room for the longest "
                                    "question, 6 bytes a character as JSON escapes can take, + 64 KiB).")
    body_timeout_s: float = Field(30.0, gt=0, description="Longest a request body may take to arrive (408).")
    max_question_chars: int = Field(
        MAX_QUESTION_CHARS, ge=10,
        description="Longest question: a pasted issue, traceback or log is normal input.")
    max_input_file_bytes: int = Field(
        1_000_000, ge=1_024, description="Largest checks or question-set file `ragqa check`/`eval` read.")
    allowed_git_hosts: str = Field(
        "github.com,gitlab.com,bitbucket.org",
        description="Hosts the HTTP API may ingest from (https only; '*.example.com' allowed).")
    allow_local_sources: bool = Field(
        False, description="Let the HTTP API ingest local paths and file:// URLs (admin only).")

    slack_bot_token: SecretStr | None = Field(
        None, validation_alias="SLACK_BOT_TOKEN", description="The Slack bot's xoxb- token.")
    slack_app_token: SecretStr | None = Field(
        None, validation_alias="SLACK_APP_TOKEN",
        description="An xapp- token with connections:write, for `ragqa slack` (Socket Mode).")
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias="SLACK_SIGNING_SECRET",
        description="Mounts the bot at /slack/events under `ragqa serve` and checks Slack's signatures.")
    slack_channel_projects: dict[str, str | list[str]] = Field(
        default_factory=dict, description='Channel id → project(s), as JSON: {"C0123": "requests", '
                                          '"C0456": ["billing", "api"]} ("*": every project).')
    slack_api_url: str | None = Field(None, description="Slack Web API base URL (tests, proxies).")
    webhook_secret: SecretStr | None = Field(
        None, description="Signs GitHub push webhooks (X-Hub-Signature-256) / is GitLab's X-Gitlab-Token.")
    refresh_interval_s: float = Field(
        0, ge=0, description="`ragqa serve` asks the projects' remotes for new commits this often (0: never; "
                             "for hosts without webhooks).")

    def answer_workers(self) -> int:
        """Answers computed at once (`max_concurrent_answers`; 0: two per core). Two per core
        because most of an answer's CPU time (the query embedding, the vector product) runs
        outside the GIL: while one answer is in Python, another is in onnxruntime or BLAS
        (docs/scale.md)."""
        return self.max_concurrent_answers or 2 * (os.cpu_count() or 1)

    def storage_origin(self) -> str:
        """Where the storage folder is and why that one, for messages that find no project there."""
        if self.chroma_url:
            return f"the Chroma server at {self.chroma_url} (RAGQA_CHROMA_URL)"
        if "storage_dir" in self.model_fields_set:
            return f"{self.storage_dir} (set by RAGQA_STORAGE_DIR)"
        if self.storage_dir.name == "storage":
            return f"{self.storage_dir} (the nearest storage/ holding a ragqa index, found from {Path.cwd()})"
        return (f"{self.storage_dir} (your user data folder: no storage/ folder holding a ragqa index "
                f"in {Path.cwd()} or a parent; set RAGQA_STORAGE_DIR to use another)")

    @property
    def body_limit(self) -> int:
        """The largest request body accepted: `max_body_bytes`, else room for the longest question."""
        return self.max_body_bytes or 6 * self.max_question_chars + 65_536

    @property
    def repos_dir(self) -> Path:
        return self.storage_dir / "repos"

    @property
    def chroma_dir(self) -> Path:
        return self.storage_dir / "chroma"

    @property
    def llm_key(self) -> str | None:
        """The model server's key: RAGQA_LLM_API_KEY, else OPENAI_API_KEY; empty counts as unset."""
        return _secret(self.llm_api_key) or _secret(self.openai_api_key)

    @property
    def model_cache_dir(self) -> Path:
        return self.onnx_dir or self.storage_dir / "models"

    @property
    def lexical_dir(self) -> Path:
        return self.storage_dir / "lexical"

    @property
    def graph_dir(self) -> Path:
        return self.storage_dir / "graph"

    @property
    def snapshot_dir(self) -> Path:
        return self.storage_dir / "snapshot"

    @property
    def locks_dir(self) -> Path:
        return self.storage_dir / "locks"


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None
