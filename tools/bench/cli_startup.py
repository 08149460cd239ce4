"""CLI start-up: `fw --help` and `fw list` against `python -c "import click, pluggy"`.

Runs each command N times, interleaved so machine load affects all alike, and prints the medians
and the ratios to the baseline. Targets: `fw --help` <= 2x, `fw list` <= 3x.
Usage: python tools/bench/cli_startup.py [--repeats 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

FW = str(Path(sys.executable).with_name('fw'))
COMMANDS = {
    'baseline: python -c "import click, pluggy"': [sys.executable, '-c', 'import click, pluggy'],
    'fw --help': [FW, '--help'],
    'fw list': [FW, 'list'],
}
TARGETS = {'fw --help': 2.0, 'fw list': 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - t0)
    medians = {k: statistics.median(v) for k, v in times.items()}
    base = medians[next(iter(COMMANDS))]
    rows = [
        {
            'command': k,
            'median_ms': round(1000 * m, 1),
            'ratio': round(m / base, 2),
            'target': TARGETS.get(k),
        }
        for k, m in medians.items()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f'{"command":<44} {"median ms":>10} {"ratio":>7} {"target":>7}')
    for r in rows:
        target = f'<= {r["target"]}' if r['target'] else ''
        print(f'{r["command"]:<44} {r["median_ms"]:>10} {r["ratio"]:>7} {target:>7}')


if __name__ == '__main__':
    main()
