"""A change read ahead (``n`` in the review inbox) comes with its first file parsed and
highlighted off the GUI thread: the panel shows it in colour at once, and only when it is
the first file of the patch it shows."""
from __future__ import annotations

from agentdeck.desktop.review.diff import DiffReview
from agentdeck.desktop.review.diff.first_file import prepare_first


def test_a_prepared_first_file_is_shown_in_colour_at_once(qtbot, git_diff) -> None:
    long = "".join(f"value_{i} = {i}\n" for i in range(600))  # two passes without it
    patch = git_diff({"a.py": long, "b.py": "y = 1\n"},
                     {"a.py": long.replace(" = ", " = -"), "b.py": "y = 2\n"})
    first = prepare_first(patch)
    assert first is not None and first.path == "a.py" and first.highlight.complete
    widget = DiffReview()
    qtbot.addWidget(widget)
    shown: list[bool] = []
    widget.file_highlighted.connect(
        lambda _n: shown.append(widget.view.rows_model.highlight.complete))
    widget.set_patch("t", patch, first=first)
    assert shown == [True]  # complete colours at the first paint, no worker pass
    assert widget.view.rows_model.highlight.new_tokens == first.highlight.new_tokens


def test_a_prepared_file_of_another_patch_is_not_used(qtbot, git_diff) -> None:
    patch = git_diff({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    other = prepare_first(git_diff({"c.py": "z = 1\n"}, {"c.py": "z = 2\n"}))
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.set_patch("t", patch, first=other)
    assert widget.files[0].path == "a.py"
    assert [r.text for r in widget.view.rows_model.rows if r.new_no == 1] == ["x = 2"]
    assert prepare_first("") is None
