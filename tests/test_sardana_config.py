"""conf/sardana in the Tango database: loading it again changes nothing, a second `nanomri up`
updates in place, and a bad YAML fails with one line naming the problem and writes nothing.

sardana-config talks to the database only (and the MacroServer's environment file), so these
tests run `configure` of cli/stack.py, the part of `up` that writes the database, on the
embedded database alone: no device server, Pool or MacroServer."""

import shelve
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import tango
from dsconfig.dump import get_db_data

from nanomri.cli import main as cli
from nanomri.cli import stack as cli_stack
from nanomri.cli.stack import Launcher, Paths, StackError, configure, start_database

from .conftest import ROOT, stack_env

WORLD = ROOT / "conf" / "worlds" / "confocal.yaml"


@dataclass
class Database:
    """The embedded database of this file, holding the configuration of `root`."""

    launcher: Launcher
    db: tango.Database

    @property
    def template(self) -> Path:
        return self.launcher.paths.root / "conf" / "sardana" / "nanomri.yaml"

    def configure(self) -> None:
        configure(self.launcher, WORLD)

    def dump(self) -> dict:
        """Everything in the database (servers, devices, aliases, device, attribute and class
        properties, DServers) and the MacroServer's environment."""
        data = get_db_data(self.db, dservers=True, class_properties=True, subdevices=True,
                           include_tango_host=False)
        data["aliases"] = sorted(self.db.get_device_alias_list("*"))
        with shelve.open(str(self.launcher.paths.state / "macroserver.env"), "r") as env:
            data["environment"] = dict(env)
        return data


def checkout_copy(tmp: Path) -> Path:
    """A root whose conf/ the tests may edit: conf/ copied, code folders linked."""
    root = tmp / "root"
    shutil.copytree(ROOT / "conf", root / "conf")
    for folder in ("controllers", "macros", "recorders"):
        (root / folder).symlink_to(ROOT / folder)
    return root


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Iterator[Database]:
    tmp = tmp_path_factory.mktemp("sardana_config")
    paths = Paths(checkout_copy(tmp), tmp / "var", tmp / "results")
    paths.state.mkdir()
    env = stack_env(tmp)
    launcher = Launcher(paths, env)
    try:
        host, port = start_database(launcher, 0).split(":")
        env["TANGO_HOST"] = f"{host}:{port}"
        database = Database(launcher, tango.Database(host, int(port)))
        database.configure()
        yield database
    finally:
        cli_stack.stop_processes(launcher.processes)


@contextmanager
def edited(template: Path, old: str, new: str) -> Iterator[None]:
    """The template with `old` (found once) replaced by `new`, put back afterwards."""
    good = template.read_text()
    assert good.count(old) == 1, f"{old!r} is not in {template} once"
    template.write_text(good.replace(old, new))
    try:
        yield
    finally:
        template.write_text(good)


def devices_by_class(dump: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instances in dump["servers"].values():
        for classes in instances.values():
            for cls, devices in classes.items():
                found.setdefault(cls, []).extend(devices)
    return found


def test_loading_the_configuration_again_leaves_the_database_as_it_was(database: Database):
    before = database.dump()
    assert {"x", "counts", "mg_counts", "scanner_ctrl", "door_nanomri"} <= set(before["aliases"])
    assert before["environment"]["ActiveMntGrp"] == "mg_counts"
    database.configure()
    assert database.dump() == before


def test_second_up_updates_changed_values_in_place_and_duplicates_nothing(database: Database):
    before = database.dump()
    pool = before["servers"]["Sardana"]["nanomri"]["Pool"]["nanomri/pool/1"]
    assert pool["properties"]["AcqLoop_SleepTime"] == ["2"]
    changes = [("    acqloop_sleep_time: 2\n", "    acqloop_sleep_time: 7\n"),
               ("Position: {unit: m, format: \"%.6e\", abs_change: 1.0e-10}\n          y:",
                "Position: {unit: m, format: \"%.9e\", abs_change: 1.0e-10}\n          y:"),
               ("          tip_z:\n", "          tip_h:\n")]
    with edited(database.template, *changes[0]), edited(database.template, *changes[1]), \
            edited(database.template, *changes[2]):
        database.configure()
        after = database.dump()
    sardana = after["servers"]["Sardana"]["nanomri"]
    assert sardana["Pool"]["nanomri/pool/1"]["properties"]["AcqLoop_SleepTime"] == ["7"]
    x = sardana["Motor"]["motor/scanner_ctrl/1"]
    assert x["alias"] == "x"
    assert x["attribute_properties"]["Position"]["format"] == ["%.9e"]
    assert sardana["Motor"]["motor/tip_ctrl/3"]["alias"] == "tip_h"
    assert after["servers"].keys() == before["servers"].keys()
    assert devices_by_class(after) == devices_by_class(before)
    assert set(after["aliases"]) == set(before["aliases"]) - {"tip_z"} | {"tip_h"}
    database.configure()  # the file as it was: the database as it was
    assert database.dump() == before


BAD = {  # what to change in conf/sardana/nanomri.yaml, and what the message must name
    "unknown controller class": (
        "python_class: MagnetCtrl\n", "python_class: NoSuchMagnetCtrl\n",
        ["nanomri.yaml", "magnet_ctrl", "MagnetCtrl.py", "NoSuchMagnetCtrl"]),
    "element name in two controllers": (
        "          tip_x:\n", "          x:\n",
        ["nanomri.yaml", "'x' is given twice", "scanner_ctrl", "tip_ctrl"]),
    "element and measurement group of one name": (
        "      mg_stm:\n", "      x:\n",
        ["nanomri.yaml", "'x' is given twice", "scanner_ctrl", "measurement group"]),
    "element name twice in one controller": (
        "          y:\n", "          x:\n",
        ["nanomri.yaml", "'x' is given twice in one mapping"]),
    "YAML syntax error": (
        "    acqloop_sleep_time: 2\n", "    acqloop_sleep_time: [2\n",
        ["nanomri.yaml: line", "expected ',' or ']'"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_yaml_fails_with_one_line_naming_the_problem_and_writes_nothing(
        database: Database, case: str):
    old, new, named = BAD[case]
    before = database.dump()
    with edited(database.template, old, new), pytest.raises(StackError) as failure:
        database.configure()
    message = str(failure.value)
    assert len(message.splitlines()) == 1 and "Traceback" not in message, message
    assert [part for part in named if part not in message] == [], message
    assert database.dump() == before


def test_up_with_a_bad_yaml_says_one_line_and_leaves_nothing_running(
        database: Database, tmp_path, monkeypatch, capsys):
    root = database.launcher.paths.root
    state = tmp_path / "var"
    monkeypatch.setattr(cli_stack, "ROOT", root)
    monkeypatch.setenv("NANOMRI_STATE", str(state))
    monkeypatch.setenv("NANOMRI_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("TANGO_HOST", "127.0.0.1:1")  # `up` sets it: put back afterwards
    with edited(database.template, "python_class: MagnetCtrl\n", "python_class: NoSuchCtrl\n"):
        code = cli.main(["up", "--world", str(WORLD)])
    try:
        err = capsys.readouterr().err
        assert code != 0
        assert err.strip().splitlines() == [err.strip()] and "NoSuchCtrl" in err, err
        assert (state / "logs" / "databaseds.log").exists()  # it got as far as the database
        assert not (state / "stack.json").exists()
        left = [p.pid for p in psutil.process_iter(["cwd"]) if p.info["cwd"] == str(state)]
        assert left == [], "processes of the failed `up` still running"
    finally:
        if (state / "stack.json").exists():  # it came up after all: stop what it started
            cli_stack.down(Paths.from_env())


def test_up_names_a_controller_whose_instrument_does_not_answer(
        database: Database, tmp_path, monkeypatch, capsys):
    root = database.launcher.paths.root
    monkeypatch.setattr(cli_stack, "ROOT", root)
    monkeypatch.setenv("NANOMRI_STATE", str(tmp_path / "var"))
    monkeypatch.setenv("NANOMRI_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("TANGO_HOST", "127.0.0.1:1")  # `up` sets it: put back afterwards
    with edited(database.template, "device: nanomri/confocal/mw\n",
                "device: nanomri/confocal/nosuchgenerator\n"):
        code = cli.main(["up", "--world", str(WORLD)])
    try:
        err = capsys.readouterr().err
        assert code == 0, err
        warnings = [line for line in err.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "controller mw_ctrl is offline" in warnings[0], err
        assert "nosuchgenerator" in warnings[0], err
    finally:
        if (tmp_path / "var" / "stack.json").exists():
            cli_stack.down(Paths.from_env())
