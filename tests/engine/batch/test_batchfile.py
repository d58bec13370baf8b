"""Batch files: parsing, template expansion, dumping, and every error message."""
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agentdeck.engine.batch.file import BatchSpec, TaskSpec, dump_batch, parse_batch_file, parse_batch_text
from agentdeck.engine.errors import BatchError, InvalidInput
from agentdeck.engine.batch.repoglob import glob_regex, match_files
from agentdeck.engine.validate import MAX_PROMPT_BYTES

ZONE = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=ZONE)
TONIGHT = datetime(2026, 11, 26, 1, 0, tzinfo=ZONE).timestamp()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with tracked files in nested folders and one untracked file."""
    root = tmp_path / "project"
    for name in ("src/app.py", "src/pkg/core.py", "src/pkg/util.py", "docs/guide.md", "setup.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)
    (root / "src" / "scratch.py").write_text("untracked\n")
    return root


def parse(text: str, base: Path, **kwargs) -> BatchSpec:
    return parse_batch_text(text, source="jobs.toml", base_dir=base, now=NOW, **kwargs)


def test_tasks_inherit_top_level_settings_and_override_them(repo: Path) -> None:
    other = repo / "src"
    spec = parse(
        'name = "night run"\nrepo = "project"\nagent = "claude"\nruntime = "docker"\n'
        'priority = 2\nat = "tonight"\ntimeout = "30m"\n\n'
        '[[task]]\nprompt = "Fix the flaky test"\n\n'
        '[[task]]\ntitle = "Docs"\nprompt = """\nWrite docs\n"""\nrepo = "project/src"\n'
        'agent = "codex"\nruntime = "local"\npriority = -1\nat = "+2h"\ntimeout = 90\n',
        repo.parent,
    )
    assert spec.name == "night run"
    assert spec.not_before == TONIGHT
    first, second = spec.tasks
    assert first == TaskSpec(prompt="Fix the flaky test", repo=str(repo), title="",
                             agent="claude", runtime="docker", priority=2,
                             not_before=TONIGHT, timeout=1800.0)
    assert second == TaskSpec(prompt="Write docs\n", repo=str(other), title="Docs",
                              agent="codex", runtime="local", priority=-1,
                              not_before=NOW.timestamp() + 7200, timeout=90.0)


def test_minimal_file_uses_default_repo_and_the_file_name(repo: Path, tmp_path: Path) -> None:
    batch = tmp_path / "cleanup.toml"
    batch.write_text('[[task]]\nprompt = "tidy"\n')
    spec = parse_batch_file(batch, default_repo=repo)
    assert spec == BatchSpec(name="cleanup", tasks=(TaskSpec("tidy", str(repo)),), not_before=None)


def test_a_missing_default_repo_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"the repo '/no/such/dir' given for the batch does"):
        parse('[[task]]\nprompt = "p"\n', tmp_path, default_repo="/no/such/dir")


def test_repo_in_the_file_wins_over_default_repo(repo: Path, tmp_path: Path) -> None:
    spec = parse(f'repo = "{repo / "src"}"\n[[task]]\nprompt = "p"\n', tmp_path, default_repo=repo)
    assert spec.tasks[0].repo == str(repo / "src")


def test_toml_datetimes_are_accepted_for_at(repo: Path) -> None:
    spec = parse('at = 2026-11-26T01:00:00+01:00\n[[task]]\nprompt = "p"\n'
                 'at = 2026-11-27\n', repo, default_repo=repo)
    assert spec.not_before == TONIGHT
    assert spec.tasks[0].not_before == datetime(2026, 11, 27).timestamp()


def test_at_override_replaces_every_start_time(repo: Path) -> None:
    text = 'at = "+1h"\n[[task]]\nprompt = "a"\n[[task]]\nprompt = "b"\nat = "23:00"\n'
    spec = parse(text, repo, default_repo=repo, at_override="tonight")
    assert spec.not_before == TONIGHT
    assert [task.not_before for task in spec.tasks] == [TONIGHT, TONIGHT]
    assert parse(text, repo, default_repo=repo, at_override=5.0).tasks[1].not_before == 5.0
    with pytest.raises(InvalidInput, match="cannot read the time 'whenever'"):
        parse(text, repo, default_repo=repo, at_override="whenever")


def test_template_makes_one_task_per_tracked_file(repo: Path) -> None:
    spec = parse(
        f'repo = "{repo}"\n[[task]]\nprompt = "first"\n'
        '[template]\nprompt = "Add type hints to {path}"\ntitle = "hints: {path}"\n'
        'paths = ["src/**/*.py", "src/pkg/*.py", "*.py"]\npriority = 3\n',
        repo,
    )
    assert [task.prompt for task in spec.tasks] == [
        "first",
        "Add type hints to src/app.py",
        "Add type hints to src/pkg/core.py",
        "Add type hints to src/pkg/util.py",
        "Add type hints to setup.py",
    ]
    assert spec.tasks[1].title == "hints: src/app.py"
    assert [task.priority for task in spec.tasks] == [0, 3, 3, 3, 3]


def test_template_outside_git_uses_the_file_system(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.txt").write_text("")
    (tmp_path / "a" / "d.txt").write_text("")
    spec = parse('[template]\nprompt = "look at {path}"\npaths = ["a/**"]\n', tmp_path,
                 default_repo=tmp_path)
    assert [task.prompt for task in spec.tasks] == ["look at a/b/c.txt", "look at a/d.txt"]


def test_template_braces_other_than_path_are_kept(repo: Path) -> None:
    spec = parse("[template]\nprompt = '''awk '{print}' {path} ${HOME}'''\n"
                 'paths = ["setup.py"]\n', repo, default_repo=repo)
    assert spec.tasks[0].prompt == "awk '{print}' setup.py ${HOME}"


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("src/**/*.py", ["src/a.py", "src/x/y/b.py"]),
        ("src/*.py", ["src/a.py"]),
        ("**/*.md", ["README.md", "doc/x/guide.md"]),
        ("src/?.py", ["src/a.py"]),
        ("src/[ab].py", ["src/a.py"]),
        ("src/[!a].py", []),
        ("doc/**", ["doc/x/guide.md"]),
    ],
)
def test_glob_semantics(pattern: str, matches: list[str]) -> None:
    files = ["README.md", "src/a.py", "src/x/y/b.py", "doc/x/guide.md", "src/a.pyc"]
    assert match_files(pattern, files) == matches


def test_glob_special_characters_are_literal() -> None:
    assert glob_regex("a+b(1).py").fullmatch("a+b(1).py")
    assert not glob_regex("a.py").fullmatch("abpy")


def test_dump_round_trips(repo: Path) -> None:
    spec = BatchSpec(
        name="round trip",
        not_before=TONIGHT,
        tasks=(
            TaskSpec("plain", str(repo), not_before=TONIGHT),
            TaskSpec('set -eu\necho "quote" \'single\' \\ back\n\ttab ${X} {y}\n"""\n',
                     str(repo / "src"), title="All: fields", agent="shell", runtime="docker",
                     priority=-4, not_before=NOW.timestamp() + 1800.25, timeout=600.0),
        ),
    )
    text = dump_batch(spec)
    assert parse_batch_text(text, source="x.toml", base_dir="/nonexistent") == spec


def test_dump_of_a_task_without_time_inherits_the_batch_time(repo: Path) -> None:
    spec = BatchSpec("b", (TaskSpec("p", str(repo)),), not_before=TONIGHT)
    again = parse_batch_text(dump_batch(spec), source="x.toml", base_dir=repo)
    assert again.tasks[0].not_before == TONIGHT


def test_demo_batch_parses(tmp_path: Path) -> None:
    from agentdeck.engine.config.resources import resource_path

    spec = parse_batch_file(resource_path("demo_batch.toml"), default_repo=tmp_path)
    assert 6 <= len(spec.tasks) <= 8
    assert {task.agent for task in spec.tasks} == {"shell"}
    assert parse_batch_text(dump_batch(spec), source="d", base_dir=tmp_path) == spec


def failure(text: str, base: Path, **kwargs) -> str:
    with pytest.raises(BatchError) as caught:
        parse(text, base, **kwargs)
    return str(caught.value)


def test_syntax_errors_name_file_line_and_column(repo: Path) -> None:
    message = failure('[[task]]\nprompt = "a"\ntitle = "unclosed\n', repo)
    assert message.startswith("jobs.toml line 3, column ")
    assert "invalid TOML" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('nmae = "x"\n[[task]]\nprompt = "p"\n',
         "jobs.toml line 1: unknown key 'nmae' at the top level; known keys: agent, at,"),
        ('[[task]]\nprompt = "p"\n\n[[task]]\nprompt = "q"\npriorty = 1\n',
         "jobs.toml line 6: unknown key 'priorty' in task 2; known keys:"),
        ('[[task]]\nprompt = "p"\n[[task]]\ntitle = "no prompt"\n',
         "jobs.toml line 3: task 2 has no prompt"),
        ('[[task]]\nprompt = "  \\n "\n', "jobs.toml line 2: the prompt of task 1 is empty"),
        ('[[task]]\nprompt = ["a"]\n', "jobs.toml line 2: the prompt of task 1 must be text"),
        ('[[task]]\nprompt = "p"\ntitle = 3\n', "jobs.toml line 3: the title must be text, not 3"),
        ('[[task]]\nprompt = "p"\npriority = "high"\n',
         "jobs.toml line 3: the priority must be a whole number from -1000000 to 1000000, "
         "not 'high'"),
        ('priority = 1.5\n[[task]]\nprompt = "p"\n',
         "jobs.toml line 1: the priority must be a whole number from -1000000 to 1000000, "
         "not 1.5"),
        ('[[task]]\nprompt = "p"\nagent = ""\n', "jobs.toml line 3: 'agent' must be a non-empty"),
        ('[[task]]\nprompt = "p"\nat = "someday"\n',
         "jobs.toml line 3: 'at': cannot read the time 'someday'; these work:"),
        ('[[task]]\nprompt = "p"\nat = 5\n',
         "jobs.toml line 3: 'at' must be a time such as \"tonight\", got 5"),
        ('timeout = "ages"\n[[task]]\nprompt = "p"\n',
         "jobs.toml line 1: the timeout: cannot read the duration 'ages'"),
        ('timeout = -5\n[[task]]\nprompt = "p"\n',
         "jobs.toml line 1: the timeout must be seconds above zero or a duration like \"30m\", "
         "not -5"),
        ('[task]\nprompt = "p"\n', "jobs.toml line 1: write each task as [[task]] (double"),
        ('task = "p"\n', "jobs.toml line 1: 'task' must be [[task]] tables"),
        ('name = ""\n[[task]]\nprompt = "p"\n', "jobs.toml line 1: 'name' must be a non-empty"),
        ('name = "x"\n', "jobs.toml: no tasks: add [[task]] entries or a [template] table"),
        ('[[task]]\nprompt = "p"\nrepo = "missing/dir"\n',
         "jobs.toml line 3: repo 'missing/dir' does not exist (looked for "),
        ('[template]\nprompt = "p"\npaths = ["*.py"]\n',
         "jobs.toml line 2: the template prompt must contain {path}"),
        ('[template]\nprompt = "p {path}"\n', "jobs.toml line 1: [template] needs paths ="),
        ('[template]\nprompt = "p {path}"\npaths = []\n',
         "jobs.toml line 3: 'paths' must be a list of globs, got []"),
        ('[template]\nprompt = "p {path}"\npaths = "*.py"\n',
         "jobs.toml line 3: 'paths' must be a list of globs, got '*.py'"),
        ('[template]\nprompt = "p {path}"\npaths = ["../*.py"]\n',
         "jobs.toml line 3: glob '../*.py' must stay inside the repo"),
        ('[template]\nprompt = "p {path}"\npaths = ["/etc/*"]\n',
         "jobs.toml line 3: glob '/etc/*' must stay inside the repo"),
        ('[template]\nprompt = "p {path}"\npaths = ["src/*.py", "lib/**/*.rs"]\n',
         "jobs.toml line 3: glob 'lib/**/*.rs' matches no file in "),
        ('[template]\nprompt = "p {path}"\npaths = ["src/scratch.py"]\n',
         "glob 'src/scratch.py' matches no file"),  # untracked files are not candidates
        ('[template]\nprompt = "p {path}"\npaths = ["*.py"]\nfoo = 1\n',
         "jobs.toml line 4: unknown key 'foo' in [template]"),
        ('template = 1\n', "jobs.toml line 1: 'template' must be a [template] table"),
    ],
)
def test_errors_name_the_line_and_reason(repo: Path, text: str, expected: str) -> None:
    assert expected in failure(text, repo, default_repo=repo)


def test_missing_repo_names_the_task(tmp_path: Path) -> None:
    message = failure('[[task]]\nprompt = "a"\nrepo = "."\n\n[[task]]\nprompt = "b"\n', tmp_path)
    assert message == "jobs.toml line 5: task 2 has no repo: set repo at the top or in the task"
    message = failure('[template]\nprompt = "a {path}"\npaths = ["*"]\n', tmp_path)
    assert message.startswith("jobs.toml line 1: [template] has no repo")


def test_unknown_agents_are_refused_when_profiles_are_given(repo: Path) -> None:
    message = failure('agent = "claud"\n[[task]]\nprompt = "p"\n', repo, default_repo=repo,
                      agents={"claude", "shell"})
    assert message == "jobs.toml line 1: no agent profile named 'claud'; known: claude, shell"


def test_a_relative_repo_is_relative_to_the_batch_file(repo: Path) -> None:
    message = failure('repo = "project"\n[[task]]\nprompt = "p"\n', repo)
    assert f"looked for {repo / 'project'}" in message


def test_a_bad_line_inside_a_multiline_prompt_is_not_mistaken(repo: Path) -> None:
    text = ("[[task]]\nprompt = '''\n[[task]]\nagent = 'x'\n'''\n"
            "[[task]]\nprompt = 'ok'\nruntime = 7\n")
    assert failure(text, repo, default_repo=repo).startswith("jobs.toml line 8: 'runtime'")


def test_unreadable_batch_file(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match=r"cannot read batch file .*nope\.toml"):
        parse_batch_file(tmp_path / "nope.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(BatchError, match=r"cannot read batch file .*bin\.toml"):
        parse_batch_file(binary)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[task]]\nprompt = "echo a\\u0000b"\n',
         "jobs.toml line 2: the prompt of task 1 contains a NUL byte (at character 7)"),
        ('[[task]]\nprompt = "p"\ntitle = "a\\u0000"\n', "jobs.toml line 3: the title contains a NUL"),
        ('[[task]]\nprompt = "p"\nrepo = "/tmp\\u0000x"\n', "jobs.toml line 3: 'repo' contains a NUL"),
        ('name = "a\\u0000"\n[[task]]\nprompt = "p"\n', "jobs.toml line 1: the batch name contains"),
        ('timeout = inf\n[[task]]\nprompt = "p"\n', "jobs.toml line 1: the timeout must be"),
        ('timeout = nan\n[[task]]\nprompt = "p"\n', "jobs.toml line 1: the timeout must be"),
        ('budget_usd = nan\n[[task]]\nprompt = "p"\n', "jobs.toml line 1: the budget must be"),
        ('budget_usd = inf\n[[task]]\nprompt = "p"\n', "jobs.toml line 1: the budget must be"),
        ('[[task]]\nprompt = "p"\npriority = 9223372036854775807\n',
         "jobs.toml line 3: the priority must be a whole number from -1000000 to 1000000"),
    ],
)
def test_values_no_task_may_hold_are_refused_at_their_line(repo: Path, text: str,
                                                          expected: str) -> None:
    assert expected in failure(text, repo, default_repo=repo)


def test_a_prompt_past_the_argument_limit_is_refused_at_its_line(repo: Path) -> None:
    """Agents get the prompt as one argument; Linux refuses one past 128 KiB at start."""
    big = "x" * (1 << 20)
    message = failure(f'[[task]]\nprompt = "ok"\n[[task]]\nprompt = """{big}"""\n', repo,
                      default_repo=repo)
    assert message.startswith("jobs.toml line 4: the prompt of task 2 is 1 MiB (1048576 bytes);"
                              " the limit is 120 KiB")
    fits = "x" * MAX_PROMPT_BYTES
    assert parse(f'[[task]]\nprompt = "{fits}"\n', repo, default_repo=repo).tasks[0].prompt == fits


def test_every_task_knows_the_line_it_was_written_at(repo: Path) -> None:
    spec = parse('repo = "project"\n[[task]]\nprompt = "a"\n\n[[task]]\nprompt = "b"\n'
                 '[template]\nprompt = "c {path}"\npaths = ["src/pkg/*.py"]\n', repo.parent)
    assert [task.origin for task in spec.tasks] == [
        "jobs.toml line 2", "jobs.toml line 5", "jobs.toml line 7", "jobs.toml line 7"]
