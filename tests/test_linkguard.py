"""The link guarantee on its own: which links survive, what labels become, the closing list."""

from __future__ import annotations

from ragqa.answer.linkguard import LinkGuard, LinkTarget, find_links, is_abstention, match_target

BASE = "https://github.com/acme/sample/blob/abc123"
TARGETS = [
    LinkTarget("S1", f"{BASE}/src/http.py#L10-L20", "src/http.py", 10, 20, "connect_timeout"),
    LinkTarget("S2", f"{BASE}/docs/guide.md#L5-L9", "docs/guide.md", 5, 9, "Timeouts"),
]


def checked(text: str, targets: list[LinkTarget] = TARGETS) -> tuple[str, LinkGuard]:
    guard = LinkGuard(targets)
    return guard.feed(text) + guard.finish(), guard


def test_allowed_links_stay_and_invented_ones_go_with_their_text_kept() -> None:
    answer, guard = checked(
        f"See [the helper]({BASE}/src/http.py#L10-L20) and [the file]({BASE}/src/http.py), "
        f"[a sub-range]({BASE}/src/http.py#L12-L14), [made up]({BASE}/src/other.py#L1-L2), "
        f"[outside]({BASE}/src/http.py#L30-L40) and [elsewhere](https://example.com/x).\n")
    assert f"[the helper]({BASE}/src/http.py#L10-L20)" in answer
    assert f"[the file]({BASE}/src/http.py)" in answer
    assert f"[a sub-range]({BASE}/src/http.py#L12-L14)" in answer
    assert "made up" in answer and "src/other.py" not in answer
    assert "outside" in answer and "#L30-L40" not in answer
    assert "elsewhere" in answer and "example.com" not in answer
    assert guard.removed == [f"{BASE}/src/other.py#L1-L2", f"{BASE}/src/http.py#L30-L40",
                             "https://example.com/x"]


def test_bare_and_angle_bracket_urls_are_checked_too() -> None:
    answer, guard = checked(f"Read {BASE}/docs/guide.md#L5-L9. Or https://evil.example/a, "
                            "or <https://evil.example/b>.\n")
    assert f"{BASE}/docs/guide.md#L5-L9." in answer
    assert "evil.example" not in answer.split("**References**")[0]
    assert guard.removed == ["https://evil.example/a", "https://evil.example/b"]


def test_labels_become_links_and_unknown_labels_vanish() -> None:
    answer, guard = checked("Use a tuple [S1]. Details in [S2, S1]. Not [S9].\n")
    assert f"tuple [S1]({TARGETS[0].url})." in answer
    assert f"[S2]({TARGETS[1].url}), [S1]({TARGETS[0].url})" in answer
    assert "[S9]" not in answer
    assert guard.cited == ["S1", "S2"]


def test_urls_inside_code_are_code_not_links() -> None:
    text = ("Call it like `requests.get('https://httpbin.org/get')`:\n\n```python\n"
            "requests.get('https://api.example.com/[S1]')\n```\n")
    answer, guard = checked(text)
    assert answer.startswith(text.rstrip("\n"))
    assert guard.removed == []


def test_the_models_reference_list_is_replaced_by_the_servers() -> None:
    answer, guard = checked(
        "Set `timeout=(3, 27)` as shown in [S2].\n\n## References\n"
        f"- [guide]({BASE}/docs/guide.md#L5-L9)\n- [fake](https://github.com/acme/sample/wiki)\n")
    body, references = answer.split("**References**")
    assert "## References" not in answer and "wiki" not in answer
    assert guard.removed == ["https://github.com/acme/sample/wiki"]
    assert references.strip().splitlines() == [
        f"- [docs/guide.md#L5-L9]({TARGETS[1].url}) — Timeouts"]
    assert body.endswith("\n\n")


def test_a_references_heading_followed_by_prose_is_kept() -> None:
    answer, _ = checked("Sources:\nThe timeout is described in the guide.\n")
    assert "The timeout is described in the guide." in answer


def test_uncited_answers_list_every_source() -> None:
    answer, _ = checked("A plain answer with no links.\n")
    assert answer.count("\n- [") == 2


def test_streamed_pieces_give_the_same_answer_as_one_piece() -> None:
    text = (f"Intro [S1] and [bad](https://x.example/y) and {BASE}/src/http.py#L10-L20\n"
            "A long paragraph line that streams in parts: `code [S1] here` then [a link with spaces]"
            f"({BASE}/src/http.py#L11-L12) and [S1, S2] and <https://x.example/z>, then https://x.example/w."
            "\n```\nhttps://in.code/ and a long line of code inside the fence, passed on as it is\n```\n"
            "**Sources:**\n- [S2]\n")
    whole, _ = checked(text)
    for size in (1, 3, 7):
        guard = LinkGuard(TARGETS)
        pieces = [guard.feed(text[i:i + size]) for i in range(0, len(text), size)]
        assert "".join(pieces) + guard.finish() == whole
        assert sum(1 for piece in pieces if piece and not piece.endswith("\n")) > 2, "lines stream in parts"
        assert not any("x.example" in piece for piece in pieces)


def test_path_only_links_for_projects_without_a_web_url() -> None:
    targets = [LinkTarget("S1", "docs/guide.md#L1-L8", "docs/guide.md", 1, 8)]
    answer, guard = checked("See [guide](docs/guide.md#L2-L3) and [x](docs/other.md).\n", targets)
    assert "[guide](docs/guide.md#L2-L3)" in answer and guard.removed == ["docs/other.md"]
    assert match_target("docs/guide.md#L9-L9", targets) is None


def test_abstentions_are_recognised() -> None:
    assert is_abstention("Hmm, I'm not sure.")
    assert is_abstention("  Hmm, I'm not sure. The sources do not cover HTTP/2.")
    assert not is_abstention("Use a tuple. Hmm, I'm not sure.")


def test_links_are_found_as_a_renderer_would_find_them() -> None:
    text = ("See [a](https://x.example/a) and <https://x.example/b>, also https://x.example/c.\n"
            "Not `https://in.code/` and not:\n```\n[x](https://in.fence/)\n```\n[S1] is a label.\n")
    assert find_links(text) == ["https://x.example/a", "https://x.example/b", "https://x.example/c"]
