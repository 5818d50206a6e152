"""The qpy render benchmark runs and agrees with Jinja2.

The speed target itself (qpy/Jinja2 <= 1.0) is checked by running
bench/qpy_render.py, never by a timed unit test.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).parent.parent / 'bench' / 'qpy_render.py'


def load_bench():
    spec = importlib.util.spec_from_file_location('qpy_render_bench', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_qpy_render_benchmark_runs(capsys):
    ratio = load_bench().main(['--rows', '50', '--repeat', '1', '--number', '1'])
    output = capsys.readouterr().out
    assert 'ratio qpy/Jinja2:' in output
    assert ratio > 0
