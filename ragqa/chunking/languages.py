"""File name → (language, kind). `kind` picks the chunker: code, docs or plain text."""

from __future__ import annotations

from pathlib import PurePosixPath

CODE_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx", ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin",
    ".kts": "kotlin", ".scala": "scala", ".swift": "swift", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".lua": "lua", ".sh": "bash", ".bash": "bash",
    ".zsh": "bash", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell",
    ".ml": "ocaml", ".dart": "dart", ".r": "r", ".jl": "julia", ".zig": "zig", ".vue": "vue",
    ".svelte": "svelte", ".sql": "sql", ".pl": "perl", ".clj": "clojure", ".groovy": "groovy",
}
DOCS_EXTENSIONS = {
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".rst": "rst",
    ".adoc": "asciidoc", ".asciidoc": "asciidoc", ".asc": "asciidoc",
}
TEXT_LANGUAGES = {
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".ini": "ini",
    ".cfg": "ini", ".txt": "text", ".html": "html", ".css": "css", ".xml": "xml",
    ".tex": "latex", ".proto": "proto", ".graphql": "graphql",
}
SPECIAL_NAMES = {
    "dockerfile": ("dockerfile", "text"), "makefile": ("make", "text"),
    "readme": ("text", "docs"), "license": ("text", "text"), "changelog": ("text", "docs"),
}
# Grammars that come with ragqa, one small wheel each: (module, function returning the language).
GRAMMAR_WHEELS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"), "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"), "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"), "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"), "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"), "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"), "bash": ("tree_sitter_bash", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"), "scala": ("tree_sitter_scala", "language"),
    "lua": ("tree_sitter_lua", "language"), "swift": ("tree_sitter_swift", "language"),
}
# tree-sitter-language-pack (the `languages` extra: every other language) names where they differ.
GRAMMARS = {"csharp": "c_sharp"}


def detect(path: str) -> tuple[str, str]:
    """The language and the kind ("code" | "docs" | "text") of a file, by its name."""
    pure = PurePosixPath(path)
    suffix = pure.suffix.lower()
    if suffix in CODE_EXTENSIONS:
        return CODE_EXTENSIONS[suffix], "code"
    if suffix in DOCS_EXTENSIONS:
        return DOCS_EXTENSIONS[suffix], "docs"
    if suffix in TEXT_LANGUAGES:
        return TEXT_LANGUAGES[suffix], "text"
    special = SPECIAL_NAMES.get(pure.stem.lower())
    if special:
        return special
    return "text", "text"
