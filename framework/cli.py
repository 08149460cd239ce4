"""The ``fw`` command line. Listing commands read manifests only; nothing heavy imports here."""
from __future__ import annotations

import fnmatch
import json
import os
import socket
import subprocess
import sys

import click

from . import __version__
from . import plugins as fw_plugins
from .errors import FwError
from .manifest import normalise_kind

BUILTIN_HELP_ORDER = ['list', 'plugins', 'configs', 'train', 'test', 'new-plugin', 'doctor']


def _import_target(target: str):
    import importlib

    module_name, _, attr = target.partition(':')
    obj = importlib.import_module(module_name)
    for part in attr.split('.'):
        obj = getattr(obj, part)
    return obj


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
            command = _import_target(spec['import'])
            if not isinstance(command, click.Command):
                raise FwError(f"{spec['import']} (command '{name}' of plugin "
                              f'{self.plugin.name}) is not a click command')
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
            name for name, p in fw_plugins.discover().items()
            if p.status == 'ok' and p.manifest.get('commands'))

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
        plugin_rows = [(n, p.manifest.get('summary', '')[:60])
                       for n, p in fw_plugins.discover().items()
                       if p.status == 'ok' and p.manifest.get('commands')]
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


def _check_strict(plugins) -> None:
    bad = [p for p in plugins.values() if p.status != 'ok']
    for p in bad:
        click.echo(f'fw: warning: plugin {p.name} ({p.dist}) failed to load: {p.error}; '
                   f'`fw plugins` shows it', err=True)
    if bad and fw_plugins.strict():
        raise FwError(f'{len(bad)} plugin(s) failed to load and FW_STRICT_PLUGINS=1')


def _components(plugins, plugin_filter=None):
    for p in plugins.values():
        if p.status != 'ok' or (plugin_filter and p.name != plugin_filter):
            continue
        for c in p.manifest['components']:
            yield {'name': f"{p.name}.{c['name']}", 'kind': c['kind'], 'plugin': p.name,
                   'summary': c.get('summary', ''), 'import': c['import']}


@cli.command('list')
@click.argument('kind', required=False)
@click.argument('pattern', required=False)
@click.option('--plugin', 'plugin_filter', help='Only this plugin.')
@click.option('--json', 'as_json', is_flag=True, help='Machine-readable output.')
def list_cmd(kind, pattern, plugin_filter, as_json):
    """List registered components: fw list [KIND] [PATTERN] (PATTERN is a shell wildcard)."""
    from .manifest import KNOWN_KINDS

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
    rows = [r for r in _components(plugins, plugin_filter)
            if (not kind or r['kind'] == kind)
            and (not pattern or fnmatch.fnmatch(r['name'].lower(), pattern.lower())
                 or fnmatch.fnmatch(r['name'].split('.', 1)[1].lower(), pattern.lower()))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo('nothing registered matches' if (kind or pattern or plugin_filter)
                   else 'no plugins installed (fw new-plugin NAME writes one)')
        return
    width = max(len(r['name']) for r in rows)
    for r in sorted(rows, key=lambda r: (r['kind'], r['name'])):
        click.echo(f"{r['kind']:<10} {r['name']:<{width}}  {r['summary']}")


@cli.command('plugins')
@click.option('--json', 'as_json', is_flag=True)
def plugins_cmd(as_json):
    """Installed plugins, their distributions and load status."""
    plugins = fw_plugins.load_all()
    rows = [{'name': p.name, 'dist': p.dist, 'version': p.version, 'status': p.status,
             'error': p.error, 'components': len(p.manifest.get('components', [])),
             'configs': len(p.configs()) if p.status == 'ok' else 0}
            for p in plugins.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo('no plugins installed')
    for r in rows:
        line = f"{r['name']:<16} {r['dist']:<20} {r['version']:<10} {r['status']}"
        if r['status'] == 'ok':
            line += f"  ({r['components']} components, {r['configs']} configs)"
        else:
            line += f"  {r['error']}"
        click.echo(line)


@cli.command('configs')
@click.argument('plugin')
@click.option('--json', 'as_json', is_flag=True)
def configs_cmd(plugin, as_json):
    """The configs PLUGIN ships (names usable with fw train)."""
    record = fw_plugins.discover().get(plugin) or fw_plugins.get(plugin)
    if record.status != 'ok':
        fw_plugins.get(plugin)
    configs = record.configs()
    if as_json:
        click.echo(json.dumps({k: str(v) for k, v in configs.items()}, indent=2))
        return
    for name in configs:
        click.echo(name)


def _overrides(cfg_options, extra) -> list[str]:
    """``--cfg-options a=1 b=2`` (mmengine's style: click sees b=2 as a trailing argument) and
    repeated ``--cfg-options`` both give ``['a=1', 'b=2']``."""
    opts = [o for item in cfg_options for o in item.split()]
    for item in extra:
        if '=' not in item:
            raise FwError(f"unexpected argument '{item}'; overrides are KEY=VALUE "
                          f'(e.g. --cfg-options train_cfg.max_epochs=3)')
        opts.append(item)
    return opts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@cli.command('train')
@click.argument('plugin')
@click.argument('config')
@click.argument('overrides', nargs=-1, metavar='[KEY=VALUE]...')
@click.option('--work-dir', help='Where logs and checkpoints go (default work_dirs/PLUGIN/CONFIG).')
@click.option('--resume', is_flag=True, help='Continue from the last checkpoint in the work dir.')
@click.option('--cfg-options', multiple=True, metavar='KEY=VALUE',
              help='Override config keys (repeatable), e.g. train_cfg.max_epochs=3.')
@click.option('--launcher', type=click.Choice(['none', 'pytorch', 'slurm']), default='none')
@click.option('--nproc', type=int, default=1, help='Start N processes with torchrun (DDP).')
@click.option('--seed', type=int, help='Random seed.')
def train_cmd(plugin, config, overrides, work_dir, resume, cfg_options, launcher, nproc, seed):
    """Train CONFIG (a packaged config name or a path) of PLUGIN.

    Overrides may follow --cfg-options as in mmengine (--cfg-options a=1 b=2) or be repeated."""
    opts = _overrides(cfg_options, overrides)
    if nproc > 1 and 'LOCAL_RANK' not in os.environ:
        from . import train as fw_train  # check the config here: one clear error, not N
        fw_plugins.activate(plugin)
        fw_train.load_config(plugin, config, work_dir=work_dir, cfg_options=opts, seed=seed)
        args = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
                f'--master_port={_free_port()}', '-m', 'framework.cli', 'train', plugin, config,
                '--launcher', 'pytorch']
        if work_dir:
            args += ['--work-dir', work_dir]
        if resume:
            args.append('--resume')
        if seed is not None:
            args += ['--seed', str(seed)]
        for o in opts:
            args += ['--cfg-options', o]
        sys.exit(subprocess.call(args))
    from . import train as fw_train
    fw_train.train(plugin, config, work_dir=work_dir, resume=resume, cfg_options=opts,
                   launcher=launcher, seed=seed)


@cli.command('test')
@click.argument('plugin')
@click.argument('config')
@click.argument('checkpoint')
@click.argument('overrides', nargs=-1, metavar='[KEY=VALUE]...')
@click.option('--work-dir')
@click.option('--cfg-options', multiple=True, metavar='KEY=VALUE')
@click.option('--json', 'as_json', is_flag=True, help='Print the metrics as JSON.')
def test_cmd(plugin, config, checkpoint, overrides, work_dir, cfg_options, as_json):
    """Evaluate CHECKPOINT with CONFIG's test set and metric."""
    from . import train as fw_train
    metrics = fw_train.test(plugin, config, checkpoint, work_dir=work_dir,
                            cfg_options=_overrides(cfg_options, overrides))
    if as_json:
        click.echo(json.dumps({k: float(v) if hasattr(v, '__float__') else v
                               for k, v in (metrics or {}).items()}))


@cli.command('new-plugin')
@click.argument('name')
@click.option('--dir', 'directory', default='.', help='Where to write fw-NAME/.')
def new_plugin_cmd(name, directory):
    """Write a complete third-party plugin to DIR/fw-NAME/."""
    from .scaffold import write_plugin
    path = write_plugin(name, directory)
    click.echo(f'wrote {path}\nnext: pip install -e {path} && fw list --plugin {name} && '
               f'fw train {name} demo')


@cli.command('doctor')
@click.option('--json', 'as_json', is_flag=True)
def doctor_cmd(as_json):
    """Versions of the stack against what each plugin declares; one line per problem."""
    from .doctor import run_doctor
    report = run_doctor()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for row in report['packages']:
            click.echo(f"{row['name']:<14} {row['version'] or '-':<16} {row['note']}")
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
        click.echo(f'fw: error: {e}', err=True)
        sys.exit(2)


if __name__ == '__main__':
    main()
