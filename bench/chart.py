"""The bench's summary as a chart: requests per second and p99 latency of
every server on every workload, side by side.

    write_chart(summary, 'bench/results/20261126-120000')
        -> ['...-120000.svg', '...-120000.png']

matplotlib (the bench extra) draws it with its Agg backend, no display
needed.
"""

from report import SERVERS, workload_key

__all__ = ['write_chart', 'chart_data']

COLORS = {'qpd': '#1f6f43', 'qpd-pg': '#6fae8a', 'gunicorn': '#b0b0b0', 'granian': '#d08c2b',
          'uwsgi': '#3b6fb6', 'nginx': '#7a3b96'}


def chart_data(summary):
    """(summary:dict) -> (workloads:[str], {server: ([rps], [p99_ms])})
    The workloads in bench order and, per server, its medians (None where
    it was not measured)."""
    names = sorted(summary['workloads'], key=workload_key)
    names = [n for n in names if n.split('@')[0] != 'slow']
    data = {}
    for server in SERVERS:
        if not any(server in summary['workloads'][n] for n in names):
            continue
        data[server] = (
            [summary['workloads'][n].get(server, {}).get('rps')
             for n in names],
            [summary['workloads'][n].get(server, {}).get('p99_ms')
             for n in names])
    return names, data


def write_chart(summary, base):
    """(summary:dict, base:str) -> [str]: write base.svg and base.png;
    their paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names, data = chart_data(summary)
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(8, 1.3 * len(names) + 3), 8), sharex=True)
    width = 0.8 / max(1, len(data))
    for i, (server, (rps, p99)) in enumerate(data.items()):
        xs = [j + (i - (len(data) - 1) / 2.0) * width
              for j in range(len(names))]
        color = COLORS.get(server)
        top.bar(xs, [v or 0 for v in rps], width, label=server, color=color)
        bottom.bar(xs, [v or 0 for v in p99], width, label=server,
                   color=color)
    top.set_ylabel('requests/s (median)')
    top.set_title('qpd and the same site under WSGI servers, 2 workers each')
    top.legend(ncol=len(data), fontsize='small')
    bottom.set_ylabel('p99 latency, ms (median)')
    bottom.set_xticks(range(len(names)))
    bottom.set_xticklabels(names, rotation=30, ha='right')
    for axes in (top, bottom):
        axes.grid(axis='y', alpha=0.3)
    figure.tight_layout()
    paths = [base + '.svg', base + '.png']
    for path in paths:
        figure.savefig(path, dpi=110)
    plt.close(figure)
    return paths
