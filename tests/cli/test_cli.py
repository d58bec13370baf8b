"""The `agentdeck` command line, run as a real subprocess against a tmp data dir."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.enginekit import git, make_repo


def test_submit_run_show_logs_diff_accept(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = json.loads(cli("submit", str(repo), "echo hello; echo hi > hi.txt",
                             "--runtime", "local", "--json").stdout)["id"]
    assert cli("list", "--state", "queued").stdout.count(task_id) == 1
    assert "queue empty" in cli("run", "--max-parallel", "2").stdout
    shown = json.loads(cli("show", task_id[:6], "--json").stdout)
    for key in ("id", "state", "review", "exit_code", "error", "attempt", "repo", "base_commit"):
        assert key in shown
    assert (shown["state"], shown["review"], shown["exit_code"]) == ("succeeded", "pending", 0)
    assert shown["base_commit"] == git(repo, "rev-parse", "HEAD")
    assert "hello" in cli("logs", task_id).stdout.splitlines()
    assert "+hi" in cli("diff", task_id).stdout
    assert "committed" in cli("accept", task_id).stdout
    assert (repo / "hi.txt").read_text() == "hi\n"
    listed = json.loads(cli("list", "--json").stdout)
    assert [t["review"] for t in listed] == ["accepted"]


def test_errors_are_one_line_on_stderr_with_nonzero_exit(cli, tmp_path):
    done = cli("submit", str(tmp_path / "missing"), "echo", ok=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr
    done = cli("show", "nope", ok=False)
    assert done.returncode == 1 and "no task with id 'nope'" in done.stderr
    done = cli("submit", str(tmp_path), "echo", "--at", "someday", ok=False)
    assert done.returncode == 1 and "someday" in done.stderr


def test_submitting_from_a_dirty_tree_says_what_the_snapshot_holds(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "README.md").write_text("work in progress\n")
    plain = cli("submit", str(repo), "cat README.md")
    assert "uncommitted changes" in plain.stderr and "--uncommitted" in plain.stderr
    taken = cli("submit", str(repo), "cat README.md", "--uncommitted")
    # Only the runtime choice of "auto" is said; no note about uncommitted work.
    assert [line for line in taken.stderr.splitlines() if "(auto)" not in line] == []
    cli("run")
    assert "work in progress" not in cli("logs", plain.stdout.strip()).stdout
    assert "work in progress" in cli("logs", taken.stdout.strip()).stdout


def test_a_reader_that_stops_early_gets_no_traceback(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = cli("submit", str(repo), "seq 200000").stdout.strip()
    cli("run")
    env = {**os.environ, "AGENTDECK_HOME": str(tmp_path / "home")}
    piped = subprocess.run(f"{sys.executable} -m agentdeck.cli.main logs {task_id} | head -1",
                           shell=True, env=env, capture_output=True, text=True, timeout=120)
    assert piped.stdout.startswith("# attempt 1 starting")
    assert piped.stderr == ""


def test_malformed_batch_is_refused_whole_with_the_line(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'repo = "{repo}"\n[[task]]\nprompt = "echo one"\n[[task]]\nprompt = 42\n')
    done = cli("batch", str(bad), ok=False)
    assert done.returncode == 1 and "line 5" in done.stderr and "prompt" in done.stderr
    assert json.loads(cli("list", "--json").stdout) == []


def test_batch_submits_every_task_scheduled(cli, tmp_path):
    repo = make_repo(tmp_path / "repo", {"a.py": "1\n", "b.py": "2\n", "c.txt": "3\n"})
    good = tmp_path / "good.toml"
    good.write_text(f'name = "tidy"\nrepo = "{repo}"\n[template]\n'
                    f'prompt = "echo fixing {{path}}"\npaths = ["*.py"]\n')
    ids = json.loads(cli("batch", str(good), "--at", "tonight 01:00", "--json").stdout)["ids"]
    assert len(ids) == 2
    listed = json.loads(cli("list", "--json").stdout)
    assert {t["state"] for t in listed} == {"queued"} and all(t["not_before"] for t in listed)


def test_help_and_agents(cli):
    assert "accept" in cli("--help").stdout
    assert "shell" in cli("agents").stdout
    profiles = json.loads(cli("agents", "--json").stdout)
    assert profiles["shell"]["command"] == ["sh", "-c", "{prompt}"]


def _refused(done: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 1 with one line on stderr holding ``words`` (and no traceback)."""
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("agentdeck: "), done.stderr
    for word in words:
        assert word in done.stderr


def _private_refs(home: Path) -> list[str]:
    return [ref for git_dir in (home / "git").glob("*.git")
            for ref in subprocess.run(["git", "--git-dir", str(git_dir), "for-each-ref"],
                                      capture_output=True, text=True, check=True).stdout.split("\n")
            if ref]


@pytest.mark.parametrize(("flags", "words"), [
    (["--timeout", "-5"], "the timeout"),
    (["--timeout", "inf"], "the timeout must be"),
    (["--budget", "nan"], "the budget must be a number of dollars above zero, not nan"),
    (["--budget", "inf"], "the budget must be"),
    (["--priority", "10000000000000000000000"], "the priority must be a whole number"),
])
def test_bad_numbers_are_refused_before_anything_is_queued(cli, tmp_path, flags, words):
    repo = make_repo(tmp_path / "repo")
    _refused(cli("submit", str(repo), "echo hi", *flags, ok=False), words)
    assert json.loads(cli("list", "--json").stdout) == []
    assert _private_refs(tmp_path / "home") == []


def test_a_timeout_is_a_duration_as_in_batch_files(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = cli("submit", str(repo), "echo hi", "--timeout", "1h30m").stdout.strip()
    assert json.loads(cli("show", task_id, "--json").stdout)["timeout"] == 5400


@pytest.mark.parametrize(("task", "words"), [
    ('prompt = "echo a\\u0000b"', ["bad.toml line 1003", "task 501", "NUL byte"]),
    ('prompt = """' + "x" * (1 << 20) + '"""', ["bad.toml line 1003", "1 MiB", "120 KiB"]),
    ('prompt = "echo"\nagent = "nope"', ["bad.toml line 1004", "no agent profile named 'nope'"]),
])
def test_a_batch_with_one_bad_task_names_its_line_and_queues_nothing(cli, tmp_path, task, words):
    repo = make_repo(tmp_path / "repo")
    bad = tmp_path / "bad.toml"
    good = "".join(f'[[task]]\nprompt = "echo {n}"\n' for n in range(500))
    bad.write_text(f'repo = "{repo}"\n{good}[[task]]\n{task}\n')
    _refused(cli("batch", str(bad), ok=False), *words)
    assert json.loads(cli("list", "--json").stdout) == []
    assert _private_refs(tmp_path / "home") == []


def _no_dac(cli_args: list[str], home: Path) -> subprocess.CompletedProcess:
    """The CLI run as root without the capabilities that let root read any file, so
    permissions apply to it as to any user."""
    return subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
         "agentdeck.cli.main", *cli_args], env={**os.environ, "AGENTDECK_HOME": str(home)},
        capture_output=True, text=True, timeout=120)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, setpriv)")


@needs_root
def test_unusable_repos_get_one_line_naming_the_thing_and_the_fix(cli, tmp_path):
    foreign = make_repo(tmp_path / "foreign")
    subprocess.run(["chown", "-R", "12345:12345", str(foreign)], check=True)
    _refused(cli("submit", str(foreign), "echo", ok=False), f"{foreign} belongs to another user",
             f"git config --global --add safe.directory {foreign}")
    make_repo(tmp_path / "locked" / "repo")
    hidden = make_repo(tmp_path / "hidden")
    (tmp_path / "locked").chmod(0)
    (hidden / ".git").chmod(0)
    try:
        _refused(_no_dac(["submit", str(tmp_path / "locked" / "repo"), "echo"], tmp_path / "home"),
                 f"cannot reach {tmp_path / 'locked' / 'repo'}", "chmod u+rx")
        _refused(_no_dac(["submit", str(hidden / "src"), "echo"], tmp_path / "home"),
                 f"cannot read {hidden / '.git'}: permission denied")
    finally:
        (tmp_path / "locked").chmod(0o755)
        (hidden / ".git").chmod(0o755)
    (tmp_path / "file").write_text("")
    _refused(cli("submit", str(tmp_path / "file"), "echo", ok=False), "is not a folder")
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    _refused(cli("submit", str(tmp_path / "empty"), "echo", ok=False),
             "has no commits yet: commit something first")
    assert json.loads(cli("list", "--json").stdout) == []


def test_comment_request_changes_and_diff_since_review(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = cli("submit", str(repo), "echo one > notes.txt", "--runtime", "local").stdout.strip()
    cli("run")
    done = cli("comment", task_id, "notes.txt:3", "not there", ok=False)
    assert done.returncode == 1 and "line 3 of notes.txt is outside the diff" in done.stderr
    done = cli("comment", task_id, "notes.txt", "no line", ok=False)
    assert done.returncode == 1 and "is not PATH:LINE or PATH:LINE-END" in done.stderr
    done = cli("diff", task_id, "--since-review", ok=False)
    assert done.returncode == 1 and "no earlier review to compare with" in done.stderr
    assert "comment 1 on notes.txt:1" in cli("comment", task_id, "notes.txt:1", "say two").stdout
    assert "> one" in cli("comments", task_id).stdout
    # A shell agent's follow-up is its script: the message runs, the rest is # comments.
    queued = cli("request-changes", task_id, "--message", "echo two >> notes.txt").stdout
    assert "follow-up queued as attempt 2" in queued
    cli("run")
    shown = json.loads(cli("show", task_id, "--json").stdout)
    assert "# notes.txt:1\n#     > one\n# say two\n" in shown["follow_up"]
    assert shown["follow_up"].endswith("\necho two >> notes.txt\n")
    assert (shown["state"], shown["attempt"]) == ("succeeded", 2)
    assert cli("diff", task_id, "--since-review").stdout.endswith(" one\n+two\n")
    assert "+one\n+two\n" in cli("diff", task_id).stdout
    assert "(sent in attempt 2)" in cli("comments", task_id, "--all").stdout


def test_inbox_lists_what_waits_and_reject_is_undone_by_reopen(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    first = cli("submit", str(repo), "echo 1 > one.txt", "--runtime", "local").stdout.strip()
    cli("run", "--max-parallel", "1")
    second = cli("submit", str(repo), "echo 2 > two.txt", "--runtime", "local").stdout.strip()
    failing = cli("submit", str(repo), "echo 'cannot go on' >&2; exit 3",
                  "--runtime", "local").stdout.strip()
    cli("run", "--max-parallel", "1")
    assert [t["id"] for t in json.loads(cli("inbox", "--json").stdout)] == [first, second]
    assert "cannot reopen" not in cli("reject", first).stdout
    listed = cli("inbox").stdout.splitlines()
    assert len(listed) == 2 and listed[1].startswith(second)
    assert cli("reopen", first[:8]).stdout.startswith(f"reopened {first}")
    assert [t["id"] for t in json.loads(cli("inbox", "--by-batch", "--json").stdout)] == \
        [first, second]
    done = cli("reopen", first, ok=False)
    assert done.returncode == 1 and "is not rejected" in done.stderr
    shown = cli("show", failing).stdout
    assert "error:          the agent exited with code 3\n                cannot go on\n" in shown


def test_diff_hunks_lists_path_n_and_accept_takes_only_and_exclude(cli, tmp_path):
    lines = "".join(f"line {n}\n" for n in range(1, 31))
    repo = make_repo(tmp_path / "repo", {"big.txt": lines, "README.md": "hi\n"})
    edit = "sed -i -e '2s/.*/two/' -e '15s/.*/fifteen/' -e '29s/.*/end/' big.txt; echo n > new.txt"
    task_id = cli("submit", str(repo), edit, "--runtime", "local").stdout.strip()
    cli("run")
    listed = cli("diff", task_id, "--hunks").stdout.splitlines()
    assert listed[0] == "big.txt#1  @@ -1,5 +1,5 @@  (+1 −1)"
    assert listed[1].startswith("big.txt#2  @@ -12,7 +12,7 @@ ") and listed[1].endswith("(+1 −1)")
    assert listed[3] == "new.txt#1  (added, whole file)  (+1 −0)"
    done = cli("accept", task_id, "--exclude", "big.txt#4", ok=False)
    assert done.returncode == 1 and "big.txt#4: big.txt has 3 hunks" in done.stderr
    assert "committed" in cli("accept", task_id, "--only", "big.txt", "new.txt",
                              "--exclude", "big.txt#2").stdout
    assert (repo / "big.txt").read_text() == lines.replace("line 2\n", "two\n").replace(
        "line 29\n", "end\n")
    assert (repo / "new.txt").exists()


def test_best_of_n_submit_compare_accept(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    made = json.loads(cli("submit", str(repo), "echo pick > pick.txt", "--attempts", "3",
                          "--runtime", "local", "--title", "pick", "--json").stdout)
    assert made["group"] and len(made["ids"]) == 3
    cli("run")
    table = cli("compare", made["group"]).stdout.splitlines()
    assert table[0].split() == ["ID", "AGENT", "STATE", "REVIEW", "+/-", "FILES", "TIME",
                                "COST", "TESTS", "TITLE"]
    assert [line.split()[:6] for line in table[1:]] == [
        [i, "shell", "succeeded", "pending", "+1/-0", "1"] for i in made["ids"]]
    assert [line.split()[-2:] for line in table[1:]] == [["pick", f"[{n}/3]"] for n in (1, 2, 3)]
    cli("accept", made["ids"][0])
    rows = json.loads(cli("compare", made["ids"][2], "--json").stdout)
    assert [r["review"] for r in rows] == ["accepted", "rejected", "rejected"]
    assert set(rows[0]) == {"id", "title", "agent", "state", "review", "files", "added",
                            "removed", "duration", "cost_usd", "failure", "test_result",
                            "test_summary"}


def test_a_group_with_an_unknown_agent_is_refused_in_one_line(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    done = cli("submit", str(repo), "echo", "--agent", "shell", "--agent", "nope", ok=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "attempt 2 of the group: no agent profile named 'nope'" in done.stderr
    done = cli("submit", str(repo), "echo", "--attempts", "0", ok=False)
    assert done.returncode == 1 and "at least 1" in done.stderr
    assert json.loads(cli("list", "--json").stdout) == []


def test_report_of_a_batch_with_a_failed_task_as_text_and_json(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "jobs.toml").write_text(
        f'name = "nightly"\nrepo = "{repo}"\n'
        '[[task]]\ntitle = "notes"\nprompt = "echo a > notes.txt"\nruntime = "local"\n'
        '[[task]]\ntitle = "broken"\nprompt = "echo no network >&2; exit 4"\n'
        'runtime = "local"\n')
    ids = json.loads(cli("batch", str(tmp_path / "jobs.toml"), "--json").stdout)["ids"]
    cli("run")
    text = cli("report", "nightly").stdout.splitlines()
    assert text[0].startswith("batch nightly (b") and text[0].endswith(
        ": 2 task(s), 2 ended, 1 failed, cost $0.00")
    assert text[2].split()[:3] == [ids[0], "shell", "succeeded"]
    assert text[3].split()[:3] == [ids[1], "shell", "failed"]
    assert text[4:] == ["    the agent exited with code 4", "    no network"]
    report = json.loads(cli("report", "last-night", "--json").stdout)
    assert [t["id"] for t in report["tasks"]] == ids
    assert report["tasks"][1]["failure"] == "the agent exited with code 4\nno network"
    done = cli("report", "weekly", ok=False)
    assert done.returncode == 1 and "no batch with id or name 'weekly'" in done.stderr
