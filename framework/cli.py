"""The ``fw`` command line. Listing commands read manifests only; nothing heavy imports here."""

from __future__ import annotations

import fnmatch
import json
import os
import pkgutil
import shlex
import shutil
import socket
import subprocess
import sys

import click

from . import __version__
from . import plugins as fw_plugins
from .errors import FwError
from .manifest import KNOWN_KINDS, normalise_kind

BUILTIN = 'list show plugins configs train test report new-plugin doctor'.split()


class PluginGroup(click.Group):
    """``fw <plugin> ...``: commands from the plugin's manifest, imported on use, then those of
    its ``fw_register_commands`` hook."""

    def __init__(self, plugin: fw_plugins.Plugin):
        super().__init__(name=plugin.name, help=plugin.manifest.get('summary', ''))
        self.plugin, self.specs = plugin, {c['name']: c for c in plugin.manifest['commands']}

    def list_commands(self, ctx):
        return sorted(set(self.specs) | set(self.commands))

    def get_command(self, ctx, name):
        if name in self.specs and name not in self.commands:
            fw_plugins.activate(self.plugin.name)  # its components build inside its commands
            command = pkgutil.resolve_name(self.specs[name]['import'])
            if not isinstance(command, click.Command):
                raise FwError(
                    f"{self.specs[name]['import']} (command '{name}') is no click command"
                )
            self.add_command(command, name)
        hooks = fw_plugins.get(self.plugin.name).hooks
        if name not in self.commands and hasattr(hooks, 'fw_register_commands'):
            hooks.fw_register_commands(cli=self)
        return self.commands.get(name)

    def format_commands(self, ctx, formatter):
        with formatter.section('Commands'):
            formatter.write_dl(sorted((n, c.get('summary', '')) for n, c in self.specs.items()))


def _with_commands() -> dict[str, fw_plugins.Plugin]:
    plugins = fw_plugins.discover().items()
    return {n: p for n, p in plugins if p.status == 'ok' and p.manifest['commands']}


class FwCLI(click.Group):
    """Built-in commands plus one lazily built group per plugin."""

    def list_commands(self, ctx):
        return BUILTIN + sorted(_with_commands())

    def get_command(self, ctx, name):
        plugin = fw_plugins.discover().get(name)
        if name not in self.commands and plugin is not None and plugin.status == 'ok':
            return PluginGroup(plugin)
        return self.commands.get(name)

    def format_commands(self, ctx, formatter):
        with formatter.section('Commands'):
            formatter.write_dl([(n, self.commands[n].get_short_help_str(60)) for n in BUILTIN])
        rows = [(n, p.manifest.get('summary', '')[:60]) for n, p in _with_commands().items()]
        if rows:
            with formatter.section('Plugin commands (fw <plugin> --help)'):
                formatter.write_dl(rows)


@click.group(cls=FwCLI, context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(__version__, prog_name='fw')
@click.option('--debug', is_flag=True, help='Show full tracebacks.')
@click.pass_context
def cli(ctx, debug):
    """fw: registries, plugins and training for research on learned projections."""
    if fw_plugins.strict() and ctx.invoked_subcommand not in ('plugins', 'doctor', None):
        _check_strict(fw_plugins.load_all())


def _echo(line: str, fit: bool = True) -> None:
    width = shutil.get_terminal_size((100, 24)).columns
    click.echo(line if not fit or len(line) <= width else line[: width - 3] + '...')


def _no_plugins() -> str:
    if os.environ.get('FW_LOAD_PLUGINS') is not None and not fw_plugins.wanted():
        return 'no plugins loaded: FW_LOAD_PLUGINS is set and empty (unset it to load all)'
    return 'no plugins installed (fw new-plugin NAME writes one)'


def _check_strict(plugins) -> None:
    bad = [p for p in plugins.values() if p.status != 'ok']
    for p in bad:
        click.echo(f'fw: warning: plugin {p.name} ({p.dist}) failed to load: {p.error}', err=True)
    if bad and fw_plugins.strict():
        raise FwError(f'{len(bad)} plugin(s) failed to load and FW_STRICT_PLUGINS=1')


def _components(plugins):
    for p in plugins.values():
        for c in p.manifest.get('components', []) if p.status == 'ok' else []:
            yield {**c, 'name': f'{p.name}.{c["name"]}', 'plugin': p.name}


def _matches(row: dict, kind: str | None, pattern: str | None) -> bool:
    names = (row['name'].lower(), row['name'].split('.', 1)[1].lower())
    wildcard = not pattern or any(fnmatch.fnmatch(n, pattern.lower()) for n in names)
    return wildcard and (not kind or row['kind'] == kind)


@cli.command('list')
@click.argument('kind', required=False)
@click.argument('pattern', required=False)
@click.option('--plugin', 'only', help='Only this plugin.')
@click.option('--json', 'as_json', is_flag=True, help='Machine-readable output.')
@click.option('--args', 'args_of', metavar='NAME', help="A component's signature and docstring.")
def list_cmd(kind, pattern, only, as_json, args_of):
    """List registered components: fw list [KIND] [PATTERN] (PATTERN is a shell wildcard)."""
    if args_of:
        return show_cmd.callback(args_of)
    if kind and normalise_kind(kind) not in KNOWN_KINDS and pattern is None:
        kind, pattern = None, kind  # `fw list 'Res*'`
    kind = kind and normalise_kind(kind)
    if kind and kind not in KNOWN_KINDS:
        raise FwError(f"unknown kind '{kind}'; kinds are: {', '.join(KNOWN_KINDS)}")
    plugins = fw_plugins.load_all()
    _check_strict(plugins)
    if only:
        plugins = {only: fw_plugins.get(only)}  # an unknown name raises with close names
    rows = [r for r in _components(plugins) if _matches(r, kind, pattern)]
    if as_json:
        return click.echo(json.dumps(rows, indent=2))
    if not rows:
        return click.echo(
            'nothing registered matches' if kind or pattern or only else _no_plugins()
        )
    width = max(len(r['name']) for r in rows)
    for r in sorted(rows, key=lambda r: (r['kind'], r['name'])):
        _echo(f'{r["kind"]:<10} {r["name"]:<{width}}  {r.get("summary", "")}')


def _first_comment(path) -> str:
    first = next((ln.strip() for ln in path.read_text().splitlines() if ln.strip()), '')
    return first.lstrip('#').strip() if first.startswith('#') else ''


@cli.command('show')
@click.argument('name')
def show_cmd(name):
    """A component's constructor signature and docstring (same as fw list --args NAME)."""
    import difflib
    import inspect

    rows = list(_components(fw_plugins.discover()))
    found = [r for r in rows if name in (r['name'], r['name'].split('.', 1)[1])]
    if len(found) != 1:
        close = difflib.get_close_matches(name, [r['name'] for r in rows], n=3, cutoff=0.5)
        raise FwError(
            f"'{name}' is ambiguous: {', '.join(r['name'] for r in found)}; use the qualified name"
            if found
            else f"no component '{name}'{'; close: ' if close else ''}{', '.join(close)}; "
            f'`fw list` lists them'
        )
    row = found[0]
    fw_plugins.activate(row['plugin'])
    obj = pkgutil.resolve_name(row['import'])
    try:
        signature = str(inspect.signature(obj))
    except (TypeError, ValueError):
        signature = '(...)'
    click.echo(
        f'{row["name"]}{signature}\n  {row["kind"]} of plugin {row["plugin"]}, {row["import"]}'
    )
    click.echo(f'\n{inspect.getdoc(obj) or "(no docstring)"}')


@cli.command('plugins')
@click.option('--json', 'as_json', is_flag=True)
def plugins_cmd(as_json):
    """Installed plugins, their distributions and load status."""
    plugins = fw_plugins.load_all().values()
    rows = [
        dict(name=p.name, dist=p.dist, version=p.version, status=p.status, error=p.error)
        | dict(components=len(p.manifest.get('components', [])), configs=len(p.configs()))
        for p in plugins
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    for r in [] if as_json else rows:
        line = f'{r["name"]:<16} {r["dist"]:<20} {r["version"]:<10} {r["status"]}  '
        ok = f'({r["components"]} components, {r["configs"]} configs)'
        _echo(line + (ok if r['status'] == 'ok' else r['error']))
    if not rows and not as_json:
        click.echo(_no_plugins())
    _check_strict({p.name: p for p in plugins})


@cli.command('configs')
@click.argument('plugin')
@click.option('--path', 'show_path', is_flag=True, help='Show each config file.')
@click.option('--json', 'as_json', is_flag=True)
def configs_cmd(plugin, show_path, as_json):
    """The configs PLUGIN ships (names for fw train), each with its first comment line.

    A config of your own inherits one with _base_ = 'PLUGIN::CONFIG' (e.g.
    'amcl::amcl_simclr_digits')."""
    configs = fw_plugins.get(plugin).configs().items()
    rows = {name: {'path': str(path), 'summary': _first_comment(path)} for name, path in configs}
    if as_json:
        return click.echo(json.dumps(rows, indent=2))
    width = max(map(len, rows), default=0)
    for name, row in rows.items():
        _echo(f'{name:<{width}}  {row["path" if show_path else "summary"]}', fit=not show_path)


def _overrides(cfg_options, extra) -> list[str]:
    """``--cfg-options a=1 b=2`` (mmengine's style: click sees b=2 as a trailing argument) and
    repeated ``--cfg-options`` both give ``['a=1', 'b=2']``."""
    for item in extra:
        if '=' not in item:
            raise FwError(
                f"unexpected argument '{item}'; overrides are KEY=VALUE "
                f'(e.g. --cfg-options train_cfg.max_epochs=3)'
            )
    return [o for item in cfg_options for o in item.split()] + list(extra)


def _run_options(command):
    """The options ``fw train`` and ``fw test`` share."""
    options = [
        click.argument('overrides', nargs=-1, metavar='[KEY=VALUE]...'),
        click.option('--work-dir', help='Logs and checkpoints (default work_dirs/PLUGIN/CONFIG).'),
        click.option(
            '--cfg-options',
            multiple=True,
            metavar='KEY=VALUE',
            help='Override config keys (repeatable), e.g. train_cfg.max_epochs=3.',
        ),
        click.option('-v', '--verbose', is_flag=True, help="Also show mmengine's own output."),
        click.option(
            '--strict/--no-strict',
            default=True,
            show_default=True,
            help='A checkpoint whose keys do not match the model is an error.',
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command('train')
@click.argument('plugin')
@click.argument('config')
@_run_options
@click.option('--resume', is_flag=True, help='Continue from the last checkpoint in the work dir.')
@click.option('--launcher', type=click.Choice(['none', 'pytorch', 'slurm']), default='none')
@click.option('--nproc', type=int, default=1, help='Start N processes with torchrun (DDP).')
@click.option('--seed', type=int, help='Random seed.')
def train_cmd(plugin, config, overrides, cfg_options, nproc, **kwargs):
    """Train CONFIG (a packaged config name or a path) of PLUGIN.

    Overrides may follow --cfg-options as in mmengine (--cfg-options a=1 b=2) or be repeated.
    Ctrl-C (or SIGTERM) stops cleanly; --resume continues exactly where the last checkpoint was."""
    from . import train as fw_train
    from .runstate import Interrupted

    opts = _overrides(cfg_options, overrides)
    argv = (click.get_current_context().obj or {}).get('argv') or sys.argv[1:]
    if nproc > 1 and 'LOCAL_RANK' not in os.environ:
        fw_plugins.activate(plugin)  # check the config here: one clear error, not N
        fw_train.load_config(plugin, config, work_dir=kwargs['work_dir'], cfg_options=opts)
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        run = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}']
        own = [a for i, a in enumerate(argv) if '--nproc' not in (a.split('=')[0], argv[i - 1])]
        run += [f'--master_port={port}', '-m', 'framework.cli', *own, '--launcher', 'pytorch']
        sys.exit(subprocess.call(run))
    try:
        runner = fw_train.train(plugin, config, cfg_options=opts, **kwargs)
    except Interrupted as e:
        again = shlex.join(['fw', *argv, *['--resume'] * ('--resume' not in argv)])
        raise Interrupted(f'{e}; continue with: {again}', e.exit_code) from None
    for line in getattr(runner, 'fw_summary', []):
        click.echo(line)


@cli.command('test')
@click.argument('plugin')
@click.argument('config')
@click.argument('checkpoint')
@_run_options
@click.option('--json', 'as_json', is_flag=True, help='Print only the metrics, as JSON.')
def test_cmd(plugin, config, checkpoint, overrides, cfg_options, as_json, **kwargs):
    """Evaluate CHECKPOINT with CONFIG's test split (its validation split if it has none)."""
    import contextlib

    from . import train as fw_train

    opts = _overrides(cfg_options, overrides)
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        metrics = fw_train.test(plugin, config, checkpoint, cfg_options=opts, **kwargs) or {}
    metrics = {k: float(v) if hasattr(v, '__float__') else v for k, v in metrics.items()}
    if as_json:
        return click.echo(json.dumps(metrics))
    width = max(map(len, metrics), default=0)
    for key, value in metrics.items():
        click.echo(f'{key:<{width}}  {f"{value:.4f}" if isinstance(value, float) else value}')


@cli.command('report')
@click.argument('work_dir', type=click.Path(file_okay=False))
@click.option('--json', 'as_json', is_flag=True, help='The summary as JSON.')
def report_cmd(work_dir, as_json):
    """Plot WORK_DIR's logged scalars (losses, metrics, learning rate, ...) to WORK_DIR/report.png
    and print a one-screen summary."""
    from .report import report

    result = report(work_dir)
    click.echo(json.dumps(result, indent=2) if as_json else '\n'.join(result['text']))


@cli.command('new-plugin')
@click.argument('name')
@click.option('--dir', 'directory', default='.', help='Where to write fw-NAME/.')
def new_plugin_cmd(name, directory):
    """Write a complete third-party plugin to DIR/fw-NAME/."""
    from .scaffold import write_plugin

    installed = {name: dist for name, _, dist, _ in fw_plugins.entry_points()}
    if name in installed:
        raise FwError(
            f"a plugin named '{name}' is installed ({installed[name]}); installing a new one "
            f'under that name would replace it: choose another name'
        )
    path = write_plugin(name, directory)
    click.echo(f'wrote {path}\nnext: pip install -e {path} && fw list --plugin {name}', nl=False)
    click.echo(f' && fw train {name} demo')


@cli.command('doctor')
@click.option('--json', 'as_json', is_flag=True)
@click.option(
    '--contract',
    multiple=True,
    metavar='PLUGIN|FOLDER',
    help='Check the plugin contract instead (repeat; "all" for every plugin).',
)
def doctor_cmd(as_json, contract):
    """Versions of the stack against what each plugin declares; one line per problem."""
    if contract:
        from .contract import main as check_contract

        sys.exit(check_contract([] if 'all' in contract else list(contract)))
    from .doctor import run_doctor

    report = run_doctor()
    lines = [f'{r["name"]:<14} {r["version"] or "-":<16} {r["note"]}' for r in report['packages']]
    lines += [f'PROBLEM: {problem}' for problem in report['problems']]
    lines += [] if report['problems'] else ['no problems found']
    click.echo(json.dumps(report, indent=2) if as_json else '\n'.join(lines))
    sys.exit(1 if report['problems'] else 0)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    code = 0
    try:
        cli.main(args=argv, prog_name='fw', standalone_mode=False, obj={'argv': argv})
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.exceptions.Abort:
        code = 130
    except FwError as e:
        if '--debug' in argv:
            raise
        code = getattr(e, 'exit_code', 2)
        click.echo(f'fw: {"" if code != 2 else "error: "}{e}', err=True)
    _exit(code)


def _exit(code: int) -> None:
    """A rank started by torchrun leaves without interpreter finalisation: gloo's worker threads
    may still drop a finished collective's tensors, which takes the GIL, and a thread taking it
    while Python finalises aborts the rank ('terminate called without an active exception') after
    a run that had succeeded (two-process runs on 2 cores: 5 of 16 failed so; 0 of 40 with this
    exit)."""
    if 'LOCAL_RANK' in os.environ and 'torch.distributed' in sys.modules:
        import logging

        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


if __name__ == '__main__':
    main()
