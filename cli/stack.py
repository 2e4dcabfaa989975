"""The embedded stack: sqlite Tango database, device servers and Sardana, up and down by PID."""

import json
import os
import re
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import yaml

from nanomri.world import WorldError, load_world

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
ORB_ARGS = ["-ORBendPoint", f"giop:tcp:{LOOPBACK}:0"]
SERVER_COMMANDS = {
    "NanoMRI": [sys.executable, "-m", "nanomri.devices.server"],
    "Sardana": [str(BIN / "Sardana")],
}


class StackError(RuntimeError):
    """Why the stack cannot come up or go down, in one line."""


@dataclass(frozen=True)
class Paths:
    """Where the stack keeps its configuration, its state and its results."""

    root: Path
    state: Path
    results: Path

    @classmethod
    def from_env(cls) -> "Paths":
        """The checkout, `NANOMRI_STATE` (default var/) and `NANOMRI_RESULTS` (results/)."""
        state = Path(os.environ.get("NANOMRI_STATE", ROOT / "var")).resolve()
        results = Path(os.environ.get("NANOMRI_RESULTS", ROOT / "results")).resolve()
        return cls(ROOT, state, results)

    @property
    def pidfile(self) -> Path:
        return self.state / "stack.json"

    @property
    def logs(self) -> Path:
        return self.state / "logs"


def since_boot(pid: int) -> float:
    """When the process `pid` started, in seconds after the machine booted. psutil's
    create_time is this plus the boot time, which the kernel gives from the wall clock: a
    clock step or a paused virtual machine moves it by seconds, and a process compared by it
    would look like another one."""
    return _since_boot(psutil.Process(pid))


def _since_boot(process: psutil.Process) -> float:
    while True:
        boot = psutil.boot_time()
        started = process.create_time() - boot
        if psutil.boot_time() == boot:  # not stepped between the reads
            return started


def running(pid: int, started: float) -> bool:
    """True if the process `pid` runs (not a zombie) and is the one that started `started` s
    after boot, not a later one with the same PID."""
    try:
        process = psutil.Process(pid)
        return (abs(_since_boot(process) - started) < 0.01
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@dataclass
class Process:
    """A process `up` started; `started` (s after boot) tells it from a later one with the
    same PID."""

    name: str
    pid: int
    started: float
    log: str

    def alive(self) -> bool:
        return running(self.pid, self.started)


@dataclass
class Stack:
    """What `up` started and where: the content of the PID file."""

    tango_host: str
    world: str
    door: str
    devices: list[str]
    processes: list[Process] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> "Stack":
        data = json.loads(path.read_text())
        data["processes"] = [Process(**_started(p)) for p in data["processes"]]
        return cls(**data)


def _started(process: dict) -> dict:
    """A process of the PID file; one written before `started` was (its `create_time`, the
    wall clock's) converted with the boot time now."""
    if "create_time" in process:
        process = dict(process)
        process["started"] = process.pop("create_time") - psutil.boot_time()
    return process


def running_stack(paths: Paths) -> Stack | None:
    """The stack of the PID file if any of its processes still runs."""
    if not paths.pidfile.exists():
        return None
    stack = Stack.load(paths.pidfile)
    return stack if any(p.alive() for p in stack.processes) else None


def sardana_tango_controllers() -> Path:
    """The folder of sardana-tango's generic controllers (TangoAttrIORCtrl, …): the package
    registers no entry point, so the Pool finds them only through its PoolPath."""
    import sardana_tango.ctrl

    return Path(sardana_tango.ctrl.__file__).parent


def render(template: Path, paths: Paths, world: Path) -> str:
    """A configuration file with ${ROOT}, ${STATE}, ${RESULTS}, ${WORLD} and ${SARDANA_TANGO}
    (sardana-tango's controller folder) filled in."""
    values = {"ROOT": paths.root, "STATE": paths.state, "RESULTS": paths.results, "WORLD": world,
              "SARDANA_TANGO": sardana_tango_controllers()}
    return string.Template(template.read_text()).substitute({k: str(v) for k, v in values.items()})


def check_port_free(port: int) -> None:
    """Refuse a database port that something else already listens on. Connections of a
    stopped server lingering in TIME_WAIT do not count: the server binds with SO_REUSEADDR."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise StackError(
                f"port {port} on {LOOPBACK} is busy ({exc.strerror}); "
                "pick another with --port or leave --port out for a free one"
            ) from None


def log_tail(path: str | Path, lines: int = 15) -> str:
    """The end of a log, for an error message."""
    text = Path(path).read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


class Launcher:
    """Starts processes in sessions of their own and remembers them for `down`."""

    def __init__(self, paths: Paths, env: dict[str, str]):
        self.paths = paths
        self.env = env
        self.processes: list[Process] = []
        paths.logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Process:
        log = self.paths.logs / f"{name.replace('/', '-')}.log"
        with open(log, "w") as out:
            popen = subprocess.Popen(
                argv,
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.paths.state,
                start_new_session=True,
            )
        proc = Process(name, popen.pid, since_boot(popen.pid), str(log))
        self.processes.append(proc)
        return proc

    def check_alive(self) -> None:
        for proc in self.processes:
            if not proc.alive():
                raise StackError(f"{proc.name} exited during start-up; its log:\n"
                                 + log_tail(proc.log))

    def run_tool(self, name: str, argv: list[str], ok_codes: tuple[int, ...] = (0,)) -> None:
        """Run a configuration tool to its end; its output goes to a log."""
        log = self.paths.logs / f"{name}.log"
        with open(log, "w") as out:
            code = subprocess.call(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=self.paths.state)
        if code not in ok_codes:
            raise StackError(f"{name} failed (exit {code}); its log:\n" + log_tail(log))


def port_is_free(port: int) -> bool:
    try:
        check_port_free(port)
    except StackError:
        return False
    return True


def start_database(launcher: Launcher, port: int, timeout: float = 30.0) -> str:
    """PyTango's sqlite database server on loopback; returns its host:port.

    Without a port it takes the one of its last run if that is free (so TANGO_HOST stays the
    same across restarts), else any free one.
    """
    last = launcher.paths.state / "database-port"
    if port:
        check_port_free(port)
    elif last.exists() and port_is_free(int(last.read_text())):
        port = int(last.read_text())
    proc = launcher.start(
        "databaseds",
        [sys.executable, "-m", "tango.databaseds.database", "--host", LOOPBACK,
         "--port", str(port), "--print-host-port", "2"],
        {"PYTANGO_DATABASE_NAME": str(launcher.paths.state / "tango.db")},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"port=(\d+)", Path(proc.log).read_text(errors="replace"))
        if found:
            last.write_text(found.group(1))
            return f"{LOOPBACK}:{found.group(1)}"
        launcher.check_alive()
        time.sleep(0.1)
    raise StackError(f"the Tango database did not start in {timeout:.0f} s:\n" + log_tail(proc.log))


def tango_servers(dsconfig: dict) -> list[str]:
    """`Server/instance` names of a dsconfig document."""
    return [f"{srv}/{inst}" for srv, insts in dsconfig["servers"].items() for inst in insts]


def tango_devices(dsconfig: dict) -> list[str]:
    """Device names of a dsconfig document."""
    return [dev for insts in dsconfig["servers"].values() for classes in insts.values()
            for devs in classes.values() for dev in devs]


def sardana_servers_and_devices(config: dict) -> tuple[list[str], list[str], str]:
    """Servers, devices (Pool, elements, MacroServer, Doors) and the Door of a Sardana YAML."""
    servers, devices, doors = set(), [], []
    for pool in config.get("pools", {}).values():
        servers.add(pool["tango_server"])
        devices.append(pool["tango_device"])
        for ctrl in pool.get("controllers", {}).values():
            devices.extend(ctrl.get("elements", {}))
        devices.extend(pool.get("measurement_groups", {}))
    for ms in config["macro_servers"].values():
        servers.add(ms["tango_server"])
        devices.append(ms["tango_device"])
        doors.extend(door["tango_device"] for door in ms["doors"].values())
    return sorted(servers), devices + doors, doors[0]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    keeps the last one silently: a second element `x` of a controller would replace the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_sardana_yaml(rendered: Path, template: Path) -> dict:
    """The Sardana configuration, or a one-line StackError naming the template and the line."""
    try:
        config = yaml.load(rendered.read_text(), Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise StackError(f"{template}: {where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise StackError(f"{template}: {' '.join(str(exc).split())}") from None
    if not isinstance(config, dict):
        raise StackError(f"{template}: not a mapping of pools and macro_servers")
    return config


def check_unique_names(config: dict, source: Path) -> None:
    """Refuse a name given to two of the controllers, elements and measurement groups of the
    file: Sardana needs them unique in a pool, and they become Tango aliases, global and caseless
    (sardana-config would stop half-way with `alias x already exists`, or move the alias)."""
    seen: dict[str, str] = {}
    for pool_name, pool in (config.get("pools") or {}).items():
        named = []
        for ctrl_name, ctrl in (pool.get("controllers") or {}).items():
            named.append((ctrl_name, f"controller of pool {pool_name}"))
            named.extend((name, f"{ctrl.get('type', 'element')} of {ctrl_name}")
                         for name in ctrl.get("elements") or {})
        named.extend((name, f"measurement group of pool {pool_name}")
                     for name in pool.get("measurement_groups") or {})
        for name, what in named:
            first = seen.setdefault(str(name).lower(), what)
            if first is not what:
                raise StackError(f"{source}: name {name!r} is given twice ({first} and {what}); "
                                 "controllers, elements and measurement groups need unique names")


def sardana_config_errors(log: Path, config: dict) -> str:
    """The errors sardana-config printed after `Error:` (its checks of the file), in one line,
    with the controller's file for its "module 'ctrl_conf'" (what it imports the file as)."""
    lines = log.read_text(errors="replace").splitlines()
    if "Error:" not in lines:
        return ""
    entries: list[str] = []
    for line in lines[lines.index("Error:") + 1:]:
        if line[:1].isspace() and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    for i, entry in enumerate(entries):
        if found := re.match(r"pools -> (.+?) -> controllers -> (.+?):", entry):
            pool = (config.get("pools") or {}).get(found[1], {})
            ctrl = pool.get("controllers", {}).get(found[2], {})
            entries[i] = entry.replace("module 'ctrl_conf'", str(ctrl.get("python_module")))
    return "; ".join(entries[1:] or entries)  # entries[0]: "Configuration contains errors!"


def load_sardana_yaml(launcher: Launcher, rendered: Path, template: Path, config: dict) -> None:
    """sardana-config checks the file (with --check-code against the controllers' code: unknown
    class, controller properties, roles, …) and writes it only if all is well."""
    name = f"sardana-config-{template.stem}"
    try:
        launcher.run_tool(name, [str(BIN / "sardana-config"), "load", "--write", "--check-code",
                                 "--environment", str(rendered)])
    except StackError:
        errors = sardana_config_errors(launcher.paths.logs / f"{name}.log", config)
        if not errors:
            raise
        raise StackError(f"{template}: {errors}") from None


def wait_for_devices(launcher: Launcher, names: list[str], timeout: float,
                     tango_host: str) -> None:
    """Block until every device of the database at `tango_host` answers, or say which did not
    and why (named with the host: a process that used another database, as `make demo` does
    with its second stack, would otherwise ask the first)."""
    import tango

    pending = list(names)
    deadline = time.monotonic() + timeout
    while pending:
        launcher.check_alive()
        for name in list(pending):
            try:
                tango.DeviceProxy(f"tango://{tango_host}/{name}").state()
                pending.remove(name)
            except tango.DevFailed:
                pass
        if pending and time.monotonic() > deadline:
            raise StackError(f"devices not answering after {timeout:.0f} s: {', '.join(pending)}")
        time.sleep(0.2)


def load_world_file(world: Path) -> Path:
    """The absolute path of a valid world file, or a StackError naming the problem."""
    try:
        load_world(world)
    except WorldError as exc:
        raise StackError(str(exc)) from None
    return world.resolve()


def up(paths: Paths, world: Path, tango_host: str | None = None, port: int = 0,
       timeout: float = 90.0) -> Stack:
    """Start (or join) the database, register and start every server, wait for every device."""
    if running := running_stack(paths):
        raise StackError(f"nanomri is already running (TANGO_HOST={running.tango_host}); "
                         "`nanomri down` stops it")
    world = load_world_file(world)
    paths.state.mkdir(parents=True, exist_ok=True)
    (paths.results / "scans").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "TANGO_HOST"}
    launcher = Launcher(paths, env)
    try:
        tango_host = tango_host or start_database(launcher, port)
        env["TANGO_HOST"] = os.environ["TANGO_HOST"] = tango_host
        stack = configure_and_start(launcher, world, tango_host, timeout)
    except BaseException:
        stop_processes(launcher.processes)
        raise
    stack.save(paths.pidfile)
    return stack


def configure(launcher: Launcher, world: Path) -> tuple[tuple[list, list], tuple[list, list], str]:
    """Check and register conf/sardana, then conf/tango, in the database: (servers, devices) of
    the instruments and of Sardana, and the Door. A bad Sardana YAML writes nothing."""
    paths = launcher.paths
    instruments = ([], [])  # (servers, devices) of conf/tango
    sardana = ([], [])  # (servers, devices) of conf/sardana
    door = None
    for template in sorted((paths.root / "conf" / "sardana").glob("*.yaml")):
        rendered = paths.state / f"sardana-{template.name}"
        rendered.write_text(render(template, paths, world))
        config = read_sardana_yaml(rendered, template)
        check_unique_names(config, template)
        load_sardana_yaml(launcher, rendered, template, config)
        servers, devices, door = sardana_servers_and_devices(config)
        sardana[0].extend(servers)
        sardana[1].extend(devices)
    if door is None:
        raise StackError(f"no Door configured in {paths.root / 'conf' / 'sardana'}")
    for template in sorted((paths.root / "conf" / "tango").glob("*.json")):
        rendered = paths.state / f"tango-{template.name}"
        rendered.write_text(render(template, paths, world))
        launcher.run_tool(f"json2tango-{template.stem}", [str(BIN / "json2tango"), "-w",
                                                         str(rendered)], ok_codes=(0, 2))
        dsconfig = json.loads(rendered.read_text())
        instruments[0].extend(tango_servers(dsconfig))
        instruments[1].extend(tango_devices(dsconfig))
    return instruments, sardana, door


def server_options(kind: str, instance: str, paths: Paths) -> list[str]:
    """A Sardana server logs to a file of this stack's at info level: by default it logs every
    step of every scan point (debug) to /tmp/tango-<user>/Sardana/<instance>/log.txt, a file
    every stack of the machine shares and a few milliseconds of each point."""
    if kind != "Sardana":
        return []
    return ["--log-file-level=info", f"--log-file-name={paths.logs / f'Sardana-{instance}.txt'}"]


def configure_and_start(launcher: Launcher, world: Path, tango_host: str, timeout: float) -> Stack:
    """Register conf/tango and conf/sardana in the database, start their servers, wait."""
    instruments, sardana, door = configure(launcher, world)
    # instruments first: the Pool's controllers connect to them as the Pool starts
    for servers, devices in (instruments, sardana):
        for server in servers:
            kind, instance = server.split("/")
            launcher.start(server, [*SERVER_COMMANDS[kind], instance, *ORB_ARGS,
                                    *server_options(kind, instance, launcher.paths)])
        wait_for_devices(launcher, devices, timeout, tango_host)
    return Stack(tango_host, str(world), door, instruments[1] + sardana[1], launcher.processes)


def offline_controllers(devices: list[str]) -> list[str]:
    """Each controller of the Pools among `devices` that is not online, with the reason its
    Pool gives, one line each: the stack runs, but those elements cannot move or count."""
    import tango

    problems = []
    for name in devices:
        try:
            proxy = tango.DeviceProxy(name)
            if proxy.info().dev_class != "Pool":
                continue
            controllers = [json.loads(item) for item in proxy.ControllerList or ()]
            for ctrl in controllers:
                device = tango.DeviceProxy(ctrl["full_name"])
                if device.state() == tango.DevState.FAULT:
                    reason = " ".join(device.status().split())
                    problems.append(f"controller {ctrl['name']} is offline: {reason}")
        except tango.DevFailed as exc:  # up has just seen it answer: say so, do not fail
            problems.append(f"{name} did not answer: {exc.args[0].desc.strip()}")
    return problems


def stop_processes(processes: list[Process], grace: float = 10.0) -> list[str]:
    """SIGTERM each of our processes (last started first), SIGKILL what outlives `grace`."""
    stopped = []
    for proc in reversed(processes):
        if not proc.alive():
            continue
        os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.alive():
            os.kill(proc.pid, signal.SIGKILL)
        stopped.append(f"{proc.name} (pid {proc.pid})")
    return stopped


def down(paths: Paths) -> list[str]:
    """Stop exactly what `up` started, from its PID file, and remove the file."""
    if not paths.pidfile.exists():
        raise StackError(f"nanomri is not running (no {paths.pidfile})")
    stopped = stop_processes(Stack.load(paths.pidfile).processes)
    paths.pidfile.unlink()
    return stopped
