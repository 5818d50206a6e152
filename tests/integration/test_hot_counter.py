"""A conflict never fails a request: 16 clients increment one counter
through a 2-worker site (real StorageServer, dispatcher and workers), with
keep-alive and with a connection per request; every response is 200 and
the counter equals the number of responses."""

import http.client
import threading
import time

import pytest

from harness import COUNTER_SLASH, Cluster, make_home

# Few retries, so that without the write turn some hits would run out of
# them (and be answered 503) within the run.
CONFIGURATION = {
    'http_address': ('127.0.0.1', 0),
    'max_retries': 3,
}

CLIENTS = 16
SECONDS = 4.0


def _keep_alive(port, deadline, results):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        while time.monotonic() < deadline:
            connection.request('GET', '/inc')
            response = connection.getresponse()
            response.read()
            results.append(response.status)
            if response.getheader('Connection', '').lower() == 'close':
                connection.close()
                connection = http.client.HTTPConnection(
                    '127.0.0.1', port, timeout=30)
    finally:
        connection.close()


def _close(port, deadline, results):
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection('127.0.0.1', port,
                                                timeout=30)
        connection.request('GET', '/inc', headers={'Connection': 'close'})
        response = connection.getresponse()
        response.read()
        results.append(response.status)
        connection.close()


def _count(port):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    connection.request('GET', '/count', headers={'Connection': 'close'})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200
    return int(body)


@pytest.mark.parametrize('client', [_keep_alive, _close],
                         ids=['keep-alive', 'close'])
def test_sixteen_clients_one_counter_no_failure(tmp_path, client):
    home = make_home(tmp_path, configuration=CONFIGURATION,
                     slash=COUNTER_SLASH % {'configuration': CONFIGURATION})
    with Cluster(home) as cluster:
        cluster.boot(workers=2)
        port = cluster.get_port('http')
        assert _count(port) == 0
        results = []
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=client,
                                    args=(port, deadline, results))
                   for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = {}
        for status in results:
            statuses[status] = statuses.get(status, 0) + 1
        count = _count(port)
        print('\n%s: %d responses %r, counter %d' % (
            client.__name__, len(results), statuses, count))
        assert statuses == {200: len(results)}
        assert count == len(results)
        assert len(results) > CLIENTS
