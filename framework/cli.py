"""The ``fw`` command line. Listing commands read manifests only; nothing heavy imports here."""

from __future__ import annotations

import fnmatch
import json
import os
import pkgutil
import socket
import subprocess
import sys

import click

from . import __version__
from . import plugins as fw_plugins
from .errors import FwError
from .manifest import normalise_kind

BUILTIN_HELP_ORDER = [
    'list',
    'show',
    'plugins',
    'configs',
    'train',
    'test',
    'report',
    'new-plugin',
    'doctor',
]


class PluginGroup(click.Group):
    """``fw <plugin> ...``: commands from the plugin's manifest, imported on use."""

    def __init__(self, plugin: fw_plugins.Plugin):
        super().__init__(name=plugin.name, help=plugin.manifest.get('summary', ''))
        self.plugin = plugin
        self._hooked = False

    def _commands(self) -> dict[str, dict]:
        return {c['name']: c for c in self.plugin.manifest.get('commands', [])}

    def _run_hook(self) -> None:
        if not self._hooked:
            self._hooked = True
            fw_plugins.get(self.plugin.name)
            hooks = self.plugin.hooks
            if hooks is not None and hasattr(hooks, 'fw_register_commands'):
                hooks.fw_register_commands(cli=self)

    def list_commands(self, ctx):
        return sorted(set(self._commands()) | set(self.commands))

    def get_command(self, ctx, name):
        spec = self._commands().get(name)
        if spec is not None and name not in self.commands:
            # the plugin's components must be buildable inside its commands, as in `fw train`
            fw_plugins.activate(self.plugin.name)
            command = pkgutil.resolve_name(spec['import'])
            if not isinstance(command, click.Command):
                raise FwError(
                    f"{spec['import']} (command '{name}' of plugin "
                    f'{self.plugin.name}) is not a click command'
                )
            self.add_command(command, name)
        if name not in self.commands:
            self._run_hook()
        return self.commands.get(name)

    def format_commands(self, ctx, formatter):
        rows = [(c['name'], c.get('summary', '')) for c in self._commands().values()]
        if rows:
            with formatter.section('Commands'):
                formatter.write_dl(sorted(rows))


class FwCLI(click.Group):
    """Built-in commands plus one lazily built group per plugin."""

    def list_commands(self, ctx):
        return BUILTIN_HELP_ORDER + sorted(
            name
            for name, p in fw_plugins.discover().items()
            if p.status == 'ok' and p.manifest.get('commands')
        )

    def get_command(self, ctx, name):
        if name in self.commands:
            return self.commands[name]
        plugin = fw_plugins.discover().get(name)
        if plugin is not None and plugin.status == 'ok':
            return PluginGroup(plugin)
        return None

    def format_commands(self, ctx, formatter):
        builtin = [(n, self.commands[n].get_short_help_str(60)) for n in BUILTIN_HELP_ORDER]
        with formatter.section('Commands'):
            formatter.write_dl(builtin)
        plugin_rows = [
            (n, p.manifest.get('summary', '')[:60])
            for n, p in fw_plugins.discover().items()
            if p.status == 'ok' and p.manifest.get('commands')
        ]
        if plugin_rows:
            with formatter.section('Plugin commands (fw <plugin> --help)'):
                formatter.write_dl(plugin_rows)


@click.group(cls=FwCLI, context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(__version__, prog_name='fw')
@click.option('--debug', is_flag=True, help='Show full tracebacks.')
@click.pass_context
def cli(ctx, debug):
    """fw: registries, plugins and training for research on learned projections."""
    ctx.obj = {'debug': debug}
    if fw_plugins.strict() and ctx.invoked_subcommand not in ('plugins', 'doctor', None):
        _check_strict(fw_plugins.load_all())


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 3] + '...'


def _no_plugins_message() -> str:
    if os.environ.get('FW_LOAD_PLUGINS', None) is not None and not fw_plugins._wanted():
        return 'no plugins loaded: FW_LOAD_PLUGINS is set and empty (unset it to load all)'
    return 'no plugins installed (fw new-plugin NAME writes one)'


def _check_strict(plugins) -> None:
    bad = [p for p in plugins.values() if p.status != 'ok']
    for p in bad:
        click.echo(
            f'fw: warning: plugin {p.name} ({p.dist}) failed to load: {p.error}; '
            f'`fw plugins` shows it',
            err=True,
        )
    if bad and fw_plugins.strict():
        raise FwError(f'{len(bad)} plugin(s) failed to load and FW_STRICT_PLUGINS=1')


def _components(plugins, plugin_filter=None):
    for p in plugins.values():
        if p.status != 'ok' or (plugin_filter and p.name != plugin_filter):
            continue
        for c in p.manifest['components']:
            yield {
                'name': f'{p.name}.{c["name"]}',
                'kind': c['kind'],
                'plugin': p.name,
                'summary': c.get('summary', ''),
                'import': c['import'],
            }


@cli.command('list')
@click.argument('kind', required=False)
@click.argument('pattern', required=False)
@click.option('--plugin', 'plugin_filter', help='Only this plugin.')
@click.option('--json', 'as_json', is_flag=True, help='Machine-readable output.')
@click.option('--args', 'args_of', metavar='NAME', help="A component's signature and docstring.")
def list_cmd(kind, pattern, plugin_filter, as_json, args_of):
    """List registered components: fw list [KIND] [PATTERN] (PATTERN is a shell wildcard)."""
    from .manifest import KNOWN_KINDS

    if args_of:
        return _show(args_of)
    plugins = fw_plugins.load_all()
    _check_strict(plugins)
    if kind and normalise_kind(kind) not in KNOWN_KINDS and pattern is None:
        kind, pattern = None, kind
    if kind:
        kind = normalise_kind(kind)
        if kind not in KNOWN_KINDS:
            raise FwError(f"unknown kind '{kind}'; kinds are: {', '.join(KNOWN_KINDS)}")
    if plugin_filter and plugin_filter not in plugins:
        fw_plugins.get(plugin_filter)  # raises with close names
    rows = [
        r
        for r in _components(plugins, plugin_filter)
        if (not kind or r['kind'] == kind)
        and (
            not pattern
            or fnmatch.fnmatch(r['name'].lower(), pattern.lower())
            or fnmatch.fnmatch(r['name'].split('.', 1)[1].lower(), pattern.lower())
        )
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            'nothing registered matches'
            if (kind or pattern or plugin_filter)
            else _no_plugins_message()
        )
        return
    width = max(len(r['name']) for r in rows)
    for r in sorted(rows, key=lambda r: (r['kind'], r['name'])):
        click.echo(_fit(f'{r["kind"]:<10} {r["name"]:<{width}}  {r["summary"]}', _width()))


def _show(name: str) -> None:
    import inspect
    import pkgutil

    plugins = fw_plugins.discover()
    rows = [r for r in _components(plugins) if name in (r['name'], r['name'].split('.', 1)[1])]
    if not rows:
        import difflib

        names = [r['name'] for r in _components(plugins)]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        raise FwError(
            f"no component '{name}'"
            + (f'; close: {", ".join(close)}' if close else '')
            + '; `fw list` lists them'
        )
    if len(rows) > 1:
        raise FwError(
            f"'{name}' is ambiguous: {', '.join(r['name'] for r in rows)}; use the qualified name"
        )
    row = rows[0]
    fw_plugins.activate(row['plugin'])
    obj = pkgutil.resolve_name(row['import'])
    try:
        signature = str(inspect.signature(obj))
    except (TypeError, ValueError):
        signature = '(...)'
    click.echo(
        f'{row["name"]}{signature}\n  {row["kind"]} of plugin {row["plugin"]}, {row["import"]}\n'
    )
    click.echo(inspect.getdoc(obj) or '(no docstring)')


@cli.command('show')
@click.argument('name')
def show_cmd(name):
    """A component's constructor signature and docstring (same as fw list --args NAME)."""
    _show(name)


@cli.command('plugins')
@click.option('--json', 'as_json', is_flag=True)
def plugins_cmd(as_json):
    """Installed plugins, their distributions and load status."""
    plugins = fw_plugins.load_all()
    rows = [
        {
            'name': p.name,
            'dist': p.dist,
            'version': p.version,
            'status': p.status,
            'error': p.error,
            'components': len(p.manifest.get('components', [])),
            'configs': len(p.configs()) if p.status == 'ok' else 0,
        }
        for p in plugins.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(_no_plugins_message())
    for r in rows:
        line = f'{r["name"]:<16} {r["dist"]:<20} {r["version"]:<10} {r["status"]}'
        if r['status'] == 'ok':
            line += f'  ({r["components"]} components, {r["configs"]} configs)'
        else:
            line += f'  {r["error"]}'
        click.echo(_fit(line, _width()))
    if fw_plugins.strict() and any(r['status'] != 'ok' for r in rows):
        raise FwError('a plugin failed to load and FW_STRICT_PLUGINS=1')


@cli.command('configs')
@click.argument('plugin')
@click.option('--path', 'show_path', is_flag=True, help='Show each config file.')
@click.option('--json', 'as_json', is_flag=True)
def configs_cmd(plugin, show_path, as_json):
    """The configs PLUGIN ships (names for fw train), each with its first comment line.

    A config of your own inherits one with _base_ = 'PLUGIN::CONFIG' (e.g. 'amcl::amcl_simclr_digits')."""
    configs = fw_plugins.get(plugin).configs()
    rows = {
        name: {'path': str(path), 'summary': _first_comment(path)} for name, path in configs.items()
    }
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(n) for n in rows), default=0)
    for name, row in rows.items():
        click.echo(
            _fit(
                f'{name:<{width}}  {row["path"] if show_path else row["summary"]}',
                10**6 if show_path else _width(),
            )
        )


def _first_comment(path) -> str:
    with open(path) as f:
        for line in f:
            if line.strip():
                return line.strip().lstrip('#').strip() if line.lstrip().startswith('#') else ''
    return ''


def _overrides(cfg_options, extra) -> list[str]:
    """``--cfg-options a=1 b=2`` (mmengine's style: click sees b=2 as a trailing argument) and
    repeated ``--cfg-options`` both give ``['a=1', 'b=2']``."""
    opts = [o for item in cfg_options for o in item.split()]
    for item in extra:
        if '=' not in item:
            raise FwError(
                f"unexpected argument '{item}'; overrides are KEY=VALUE "
                f'(e.g. --cfg-options train_cfg.max_epochs=3)'
            )
        opts.append(item)
    return opts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


_VERBOSE = click.option(
    '-v',
    '--verbose',
    is_flag=True,
    help="Also show mmengine's own output (config dump, hooks, log lines).",
)
_STRICT = click.option(
    '--strict/--no-strict',
    default=True,
    show_default=True,
    help='A checkpoint whose keys do not match the model is an error.',
)


@cli.command('train')
@click.argument('plugin')
@click.argument('config')
@click.argument('overrides', nargs=-1, metavar='[KEY=VALUE]...')
@click.option('--work-dir', help='Where logs and checkpoints go (default work_dirs/PLUGIN/CONFIG).')
@click.option('--resume', is_flag=True, help='Continue from the last checkpoint in the work dir.')
@click.option(
    '--cfg-options',
    multiple=True,
    metavar='KEY=VALUE',
    help='Override config keys (repeatable), e.g. train_cfg.max_epochs=3.',
)
@click.option('--launcher', type=click.Choice(['none', 'pytorch', 'slurm']), default='none')
@click.option('--nproc', type=int, default=1, help='Start N processes with torchrun (DDP).')
@click.option('--seed', type=int, help='Random seed.')
@_VERBOSE
@_STRICT
def train_cmd(
    plugin, config, overrides, work_dir, resume, cfg_options, launcher, nproc, seed, verbose, strict
):
    """Train CONFIG (a packaged config name or a path) of PLUGIN.

    Overrides may follow --cfg-options as in mmengine (--cfg-options a=1 b=2) or be repeated.
    Ctrl-C (or SIGTERM) stops cleanly; --resume continues exactly where the last checkpoint was."""
    opts = _overrides(cfg_options, overrides)
    if nproc > 1 and 'LOCAL_RANK' not in os.environ:
        from . import train as fw_train  # check the config here: one clear error, not N

        fw_plugins.activate(plugin)
        fw_train.load_config(plugin, config, work_dir=work_dir, cfg_options=opts, seed=seed)
        args = [
            sys.executable,
            '-m',
            'torch.distributed.run',
            f'--nproc_per_node={nproc}',
            f'--master_port={_free_port()}',
            '-m',
            'framework.cli',
            'train',
            plugin,
            config,
            '--launcher',
            'pytorch',
        ]
        if work_dir:
            args += ['--work-dir', work_dir]
        if resume:
            args.append('--resume')
        if seed is not None:
            args += ['--seed', str(seed)]
        if verbose:
            args.append('--verbose')
        if not strict:
            args.append('--no-strict')
        for o in opts:
            args += ['--cfg-options', o]
        sys.exit(subprocess.call(args))
    from . import train as fw_train
    from .runstate import Interrupted

    try:
        runner = fw_train.train(
            plugin,
            config,
            work_dir=work_dir,
            resume=resume,
            cfg_options=opts,
            launcher=launcher,
            seed=seed,
            verbose=verbose,
            strict=strict,
        )
    except Interrupted as e:
        import shlex

        again = (
            ['fw', 'train', plugin, config, '--resume']
            + (['--work-dir', work_dir] if work_dir else [])
            + (['--seed', str(seed)] if seed is not None else [])
            + [a for o in opts for a in ('--cfg-options', o)]
        )
        raise Interrupted(f'{e}; continue with: {shlex.join(again)}', e.exit_code) from None
    for line in getattr(runner, 'fw_summary', []):
        click.echo(line)


@cli.command('test')
@click.argument('plugin')
@click.argument('config')
@click.argument('checkpoint')
@click.argument('overrides', nargs=-1, metavar='[KEY=VALUE]...')
@click.option('--work-dir')
@click.option('--cfg-options', multiple=True, metavar='KEY=VALUE')
@click.option('--json', 'as_json', is_flag=True, help='Print only the metrics, as JSON.')
@_VERBOSE
@_STRICT
def test_cmd(
    plugin, config, checkpoint, overrides, work_dir, cfg_options, as_json, verbose, strict
):
    """Evaluate CHECKPOINT with CONFIG's test split (its validation split if it has none)."""
    import contextlib

    from . import train as fw_train

    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        metrics = fw_train.test(
            plugin,
            config,
            checkpoint,
            work_dir=work_dir,
            cfg_options=_overrides(cfg_options, overrides),
            verbose=verbose,
            strict=strict,
        )
    metrics = {k: float(v) if hasattr(v, '__float__') else v for k, v in (metrics or {}).items()}
    if as_json:
        click.echo(json.dumps(metrics))
    else:
        width = max((len(k) for k in metrics), default=0)
        for key, value in metrics.items():
            click.echo(
                f'{key:<{width}}  {value:.4f}'
                if isinstance(value, float)
                else f'{key:<{width}}  {value}'
            )


@cli.command('report')
@click.argument('work_dir', type=click.Path(file_okay=False))
@click.option('--json', 'as_json', is_flag=True, help='The summary as JSON.')
def report_cmd(work_dir, as_json):
    """Plot WORK_DIR's logged scalars (losses, metrics, learning rate, ...) to WORK_DIR/report.png
    and print a one-screen summary."""
    from .report import report

    result = report(work_dir)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        for line in result['text']:
            click.echo(line)


@cli.command('new-plugin')
@click.argument('name')
@click.option('--dir', 'directory', default='.', help='Where to write fw-NAME/.')
def new_plugin_cmd(name, directory):
    """Write a complete third-party plugin to DIR/fw-NAME/."""
    from importlib import metadata

    from .scaffold import write_plugin

    installed = {
        ep.name: ep.dist.name if ep.dist else '?'
        for ep in metadata.entry_points(group=fw_plugins.ENTRY_POINT_GROUP)
    }
    if name in installed:
        raise FwError(
            f"a plugin named '{name}' is installed ({installed[name]}); installing a "
            f'new one under that name would replace it: choose another name'
        )
    path = write_plugin(name, directory)
    click.echo(
        f'wrote {path}\nnext: pip install -e {path} && fw list --plugin {name} && '
        f'fw train {name} demo'
    )


@cli.command('doctor')
@click.option('--json', 'as_json', is_flag=True)
@click.option(
    '--contract',
    'contract',
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
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for row in report['packages']:
            click.echo(f'{row["name"]:<14} {row["version"] or "-":<16} {row["note"]}')
        for problem in report['problems']:
            click.echo(f'PROBLEM: {problem}')
        if not report['problems']:
            click.echo('no problems found')
    if report['problems']:
        sys.exit(1)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = '--debug' in argv
    try:
        cli.main(args=argv, prog_name='fw', standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except FwError as e:
        if debug:
            raise
        code = getattr(e, 'exit_code', 2)
        click.echo(f'fw: {"" if code != 2 else "error: "}{e}', err=True)
        sys.exit(code)


if __name__ == '__main__':
    main()
