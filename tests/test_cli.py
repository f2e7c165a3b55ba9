import contextlib

import pytest

import app as application
from models import Setting, db
from piratebox import box
from piratebox.database import open_existing
from piratebox.storage import DataDir


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
    assert "contient déjà une boîte" in result.output
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
    assert result.output.strip() == (
        "Erreur : Mot de passe trop court : utilisez au moins 8 caractères.")


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
    assert "Exemple :" in result.output  # French by default, as the mediator reads it
    english = runner.invoke(application.cli, ["--lang", "en", *path, "--help"])
    assert "Example:" in english.output and "Exemple" not in english.output


def test_the_command_line_speaks_english_on_request(runner, data_dir):
    for args, env in ((["--lang", "en"], {}), ([], {"PIRATEBOX_LANG": "en"})):
        result = runner.invoke(application.cli, [*args, "--data", str(data_dir.path),
                                                 "set-password", "--password-stdin"],
                               input="court\n", env=env)
        assert result.output.strip() == (
            "Error: The password is too short: use at least 8 characters.")
    french = run(runner, data_dir.path, "set-password", "--password-stdin", input="court\n")
    assert french.output.startswith("Erreur : ")  # the next run is French again


def test_the_village_name_comes_from_the_environment(runner, tmp_path):
    result = run(runner, tmp_path / "box", "init", env={"PIRATEBOX_NAME": "Marols"})
    assert result.exit_code == 0 and "Marols" in result.output
    with db.connection_context():
        assert box.identity()["name"] == "Marols"


def test_init_asks_the_village_name_on_a_terminal(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    from tests.server import ROOT

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--data", str(tmp_path / "box"), "init"],
        stdin=follower, stdout=follower, stderr=follower, cwd=ROOT,
        env={**os.environ, "PIRATEBOX_NAME": ""})
    os.close(follower)
    seen = b""
    while b"village" not in seen:
        seen += os.read(leader, 1024)
    os.write(leader, b"Saint-Just-en-Bas\n")
    assert process.wait(timeout=30) == 0
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 1024):
            seen += chunk
    os.close(leader)
    assert "Le nom du village" in seen.decode()
    open_existing(DataDir(tmp_path / "box"))
    with db.connection_context():
        assert box.identity()["name"] == "Saint-Just-en-Bas"


def test_a_busy_port_is_one_line_saying_what_to_do(data_dir):
    import socket
    import subprocess
    import sys

    from tests.server import ROOT

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--data",
                                 str(data_dir.path), "serve", "--port", str(port)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        f"Erreur : Le port {port} est déjà pris (une autre boîte, ou un autre programme) : "
        f"arrêtez-le, ou choisissez un autre port, par exemple --port {port + 1}.")

