"""The one harness that integration tests and benchmarks share.

    processes  Process (a child whose READY lines are parsed), Processes
               (a group always stopped), free_port, wait_until, kill_tree
    http       raw requests and responses, probes
    cluster    one site's processes started one by one (Cluster, make_home)
    home       a home driven through the `qpd` command and supervisord
               (QpdHome, Load)
    nginx      a real nginx in front
    qpsites    QP sites copied into a home, ported, served (QpSites)
    storage    QPD_TEST_STORAGE: the site tests on a Durus file or on
               PostgreSQL (postgres: the cluster itself)

Tests import it as `harness` (tests/ is on sys.path under pytest); the
benchmarks put tests/ on sys.path themselves.
"""

from harness.processes import (HarnessError, free_port, pid_exists,
                               wait_until, find_processes_in, kill_tree,
                               wait_for_line, Process, Processes)
from harness.http import (read_response, connect, request, http_get,
                          wait_for_200)
from harness.cluster import (SLASH, COUNTER_SLASH, BASE_CONFIGURATION,
                             make_home, add_static_file, Cluster)
from harness.home import QpdHome, Load
from harness.nginx import Nginx, find_nginx
from harness.qpsites import QpSites, port_counts, qpd

__all__ = [
    'HarnessError', 'free_port', 'pid_exists', 'wait_until',
    'find_processes_in', 'kill_tree', 'wait_for_line', 'Process',
    'Processes', 'read_response', 'connect', 'request', 'http_get',
    'wait_for_200', 'SLASH', 'COUNTER_SLASH', 'BASE_CONFIGURATION',
    'make_home', 'add_static_file', 'Cluster',
    'QpdHome', 'Load', 'Nginx', 'find_nginx', 'QpSites', 'port_counts',
    'qpd',
]
