"""`make demo`'s command, `qpd demo`, in a fresh home: it creates the demo
site, starts it, says where it is, and the home page answers."""

import re

import pytest
import requests

from harness import QpdHome

pytestmark = pytest.mark.timeout(120)


def test_demo_serves_the_home_page():
    home = QpdHome.make()
    try:
        result = home.run('demo')
        assert 'created site demo' in result.stdout
        url = re.search(r'Open (http://\S+) in a browser', result.stdout)
        assert url, result.stdout
        for command in ('shell demo', 'status', 'stop demo'):
            assert command in result.stdout
        response = requests.get(url.group(1), timeout=30)
        assert response.status_code == 200
        assert 'Welcome to demo' in response.text
        result = home.run('demo')               # again: just running
        assert 'created site' not in result.stdout
        assert requests.get(url.group(1), timeout=30).status_code == 200
    finally:
        assert home.cleanup() == [], 'processes outlived qpd shutdown'
