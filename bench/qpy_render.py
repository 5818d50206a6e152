"""Render a 1,000-row, 5-column HTML table with a .qpy template and with
Jinja2 (autoescape on); print the best time of each and the ratio qpy/Jinja2.

    python bench/qpy_render.py [--rows N] [--repeat N] [--number N]

Both templates produce the same markup (checked before timing). The .qpy
template is written to a temporary directory and imported through the
qpd import hook, as a site's templates are.
"""

import argparse
import importlib
import os
import sys
import tempfile
import timeit

import jinja2

import qpd  # noqa: F401  (installs the .qpy import hook)

__all__ = ['QPY_SOURCE', 'JINJA_SOURCE', 'make_rows', 'load_qpy', 'load_jinja', 'main']

QPY_SOURCE = '''\
def table:xml(rows):
    '<table>\\n'
    for row in rows:
        '<tr>'
        for cell in row:
            '<td>'
            cell
            '</td>'
        '</tr>\\n'
    '</table>\\n'
'''

JINJA_SOURCE = (
    '<table>\n'
    '{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>\n'
    '{% endfor %}</table>\n')


def make_rows(count: int):
    """(count:int) -> list[tuple]
    count rows of 5 cells: an int, plain text, text that needs quoting,
    a float and an email address.
    """
    return [(index,
             'name %d' % index,
             '<b>"Tom" & \'Jerry\' #%d</b>' % index,
             index * 1.5,
             'user%d@example.com' % index)
            for index in range(count)]


def load_qpy(directory: str):
    """(directory:str) -> function
    The `table` template of a .qpy module written to directory.
    """
    with open(os.path.join(directory, 'qpy_bench_table.qpy'), 'w') as file:
        file.write(QPY_SOURCE)
    sys.path.insert(0, directory)
    try:
        return importlib.import_module('qpy_bench_table').table
    finally:
        sys.path.remove(directory)


def load_jinja():
    """() -> jinja2.Template"""
    environment = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    return environment.from_string(JINJA_SOURCE)


def best_time(function, repeat: int, number: int) -> float:
    """(function, repeat:int, number:int) -> float
    The best, over repeat runs, of the mean seconds per call of number calls.
    """
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def main(argv=None):
    """(argv:list[str]|None=None) -> float
    Run the benchmark, print the figures, return the ratio qpy/Jinja2.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rows', type=int, default=1000)
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--number', type=int, default=20)
    options = parser.parse_args(argv)
    rows = make_rows(options.rows)
    with tempfile.TemporaryDirectory() as directory:
        table = load_qpy(directory)
    template = load_jinja()
    qpy_output = table(rows)
    jinja_output = template.render(rows=rows)
    if str(qpy_output) != jinja_output:
        raise SystemExit('qpy and Jinja2 rendered different markup')
    qpy_time = best_time(lambda: table(rows), options.repeat, options.number)
    jinja_time = best_time(lambda: template.render(rows=rows), options.repeat, options.number)
    ratio = qpy_time / jinja_time
    print('table: %d rows x 5 columns, %d bytes' % (options.rows, len(qpy_output)))
    print('qpy:    %8.3f ms' % (qpy_time * 1000))
    print('Jinja2: %8.3f ms' % (jinja_time * 1000))
    print('ratio qpy/Jinja2: %.3f' % ratio)
    return ratio


if __name__ == '__main__':
    main()
