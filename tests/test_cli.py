import pytest

import app as application
from models import Setting, db
from piratebox import box
from piratebox.database import open_existing


def run(runner, data, *args, **kwargs):
    return runner.invoke(application.cli, ["--data", str(data), *args], **kwargs)


def test_init_creates_the_database_key_and_identity(runner, tmp_path):
    folder = tmp_path / "box"
    result = run(runner, folder, "init", "--name", "Marols")
    assert result.exit_code == 0, result.output
    assert (folder / "piratebox.db").exists()
    assert (folder / "secret_key").exists()
    assert "set-password" in result.output
    with db.connection_context():
        ident = box.identity()
    assert ident["name"] == "Marols" and ident["role"] == "box" and len(ident["id"]) == 26


def test_init_as_hub(runner, tmp_path):
    result = run(runner, tmp_path / "hub", "init", "--role", "hub")
    assert result.exit_code == 0
    with db.connection_context():
        assert box.identity()["role"] == "hub"


def test_init_refuses_an_existing_box_in_one_line(runner, data_dir):
    result = run(runner, data_dir.path, "init")
    assert result.exit_code != 0
    assert "already holds a box" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_init_refuses_an_unknown_role(runner, tmp_path):
    result = run(runner, tmp_path / "x", "init", "--role", "king")
    assert result.exit_code == 2 and "king" in result.output


def test_set_password_from_stdin(runner, data_dir):
    result = run(runner, data_dir.path, "set-password", "--password-stdin",
                 input="un mot de passe long\n")
    assert result.exit_code == 0, result.output
    open_existing(data_dir)
    with db.connection_context():
        assert box.check_password("un mot de passe long")
        assert not box.check_password("autre chose")
        assert "un mot de passe" not in Setting.get_value("admin_password")


def test_set_password_asks_twice(runner, data_dir):
    result = run(runner, data_dir.path, "set-password", input="abcdefgh1\nabcdefgh1\n")
    assert result.exit_code == 0, result.output


def test_a_short_password_is_refused_in_one_line(runner, data_dir):
    result = run(runner, data_dir.path, "set-password", "--password-stdin", input="court\n")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: The password is too short: use at least 8 characters."


def test_a_command_on_a_missing_box_says_to_init(runner, tmp_path):
    result = run(runner, tmp_path / "none", "set-password", "--password-stdin", input="x" * 9)
    assert result.exit_code == 1
    assert "init" in result.output


def all_commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [path for path, _c in all_commands(application.cli)],
                         ids=" ".join)
def test_every_command_has_help_with_an_example(runner, path):
    result = runner.invoke(application.cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
