"""`agentdeck show --json` overlaps, `approve`, `freshen` and `land`, as real subprocesses."""
from __future__ import annotations

import json

from tests.engine.enginekit import git, make_repo

LINES = "".join(f"line {n}\n" for n in range(1, 21))


def _tasks(cli, repo, *scripts):
    ids = [cli("submit", str(repo), script, "--runtime", "local").stdout.strip()
           for script in scripts]
    cli("run")
    return ids


def test_overlaps_show_in_show_json_and_text(cli, tmp_path):
    repo = make_repo(tmp_path / "repo", {"notes.txt": LINES})
    one, two = _tasks(cli, repo, "sed -i 's/^line 2$/a/' notes.txt",
                      "sed -i 's/^line 9$/b/' notes.txt")
    shown = json.loads(cli("show", one, "--json").stdout)
    assert shown["overlaps"] == [{"task": two, "paths": ["notes.txt"]}]
    assert f"overlaps with {one} in notes.txt" in cli("show", two).stdout


def test_land_stops_at_the_failing_task_and_prints_its_output(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    ids = _tasks(cli, repo, "echo a > a.txt", "echo b > BROKEN", "echo c > c.txt")
    for task_id in ids:
        cli("approve", task_id)
    done = cli("land", "--approved", "--test", "! test -e BROKEN || { echo broken!; exit 4; }",
               ok=False)
    assert done.returncode == 1
    assert f"landed {ids[0]}" in done.stdout
    assert f"stopped at {ids[1]}" in done.stdout and "broken!" in done.stdout
    assert f"[1/3] {ids[0]} landed" in done.stderr
    assert git(repo, "log", "-1", "--format=%B").count(ids[0]) == 1


def test_land_and_freshen_refuse_a_dirty_checkout_in_one_line(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    [task_id] = _tasks(cli, repo, "echo a > a.txt")
    (repo / "README.md").write_text("unfinished\n")
    head = git(repo, "rev-parse", "HEAD")
    for args in (("land", task_id), ("freshen", task_id)):
        done = cli(*args, ok=False)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "uncommitted changes" in done.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    done = cli("land", ok=False)
    assert done.returncode == 1 and "name the tasks to land" in done.stderr


def test_freshen_moves_a_task_onto_the_new_head(cli, tmp_path):
    repo = make_repo(tmp_path / "repo", {"notes.txt": LINES})
    one, two = _tasks(cli, repo, "sed -i 's/^line 2$/a/' notes.txt",
                      "sed -i 's/^line 9$/b/' notes.txt")
    cli("accept", one)
    assert cli("freshen", two).stdout.strip() == f"{two}: freshened onto the branch head"
    assert json.loads(cli("show", two, "--json").stdout)["base_commit"] == git(
        repo, "rev-parse", "HEAD")
