"""The write turn: after WRITE_TURN_AFTER conflicts a hit asks the
publisher's acquire_write_turn() once, runs its next attempt holding it,
and gives it back when the hit is done; hits without conflicts never ask.
(The process server's side, where the dispatcher grants the turn, is
tested with real workers in tests/integration/test_write_turn.py.)"""

from durus.error import ReadConflictError

from qpd.web.directory import Directory
from qpd.web.hit import Hit
from qpd.web.profile import Profile
from qpd.web.publish import Publisher, WRITE_TURN_AFTER
from qpd.web.request import HTTPRequest


class SiteDirectory(Directory):

    _q_exports = ['', 'conflict']
    conflicts_left = 0
    log = []

    def _q_index(self):
        return 'plain'

    def conflict(self):
        if SiteDirectory.conflicts_left > 0:
            SiteDirectory.conflicts_left -= 1
            SiteDirectory.log.append('conflict')
            raise ReadConflictError([b'\0' * 8])
        SiteDirectory.log.append('through')
        return 'through'


class SitePublisher(Publisher):
    configuration = dict(max_retries=10, retry_delay=0.0)


def _publisher():
    publisher = SitePublisher()

    def acquire():
        SiteDirectory.log.append('acquire')
        return lambda: SiteDirectory.log.append('release')
    publisher.acquire_write_turn = acquire
    return publisher


def _run(publisher, path):
    profile = Profile(publisher)
    hit = Hit(HTTPRequest(None, profile.make_environ('GET', path)))
    publisher.process_hit(hit)
    return profile.get_body(hit.get_response())


def test_the_turn_is_asked_once_after_a_few_conflicts():
    SiteDirectory.log = []
    SiteDirectory.conflicts_left = 7
    publisher = _publisher()
    assert _run(publisher, '/conflict') == b'through'
    log = SiteDirectory.log
    assert log.count('acquire') == 1 and log.count('release') == 1
    assert log.index('acquire') == WRITE_TURN_AFTER
    assert log[-2:] == ['through', 'release']
    SiteDirectory.conflicts_left = 0


def test_hits_without_conflicts_never_ask():
    SiteDirectory.log = []
    publisher = _publisher()
    assert _run(publisher, '/') == b'plain'
    assert _run(publisher, '/conflict') == b'through'
    assert SiteDirectory.log == ['through']


def test_the_turn_is_given_back_when_the_hit_fails():
    SiteDirectory.log = []
    SiteDirectory.conflicts_left = 50       # more than max_retries
    publisher = _publisher()
    profile = Profile(publisher)
    response = profile.get('/conflict')
    assert response.get_status_code() == 503
    assert SiteDirectory.log.count('acquire') == 1
    assert SiteDirectory.log[-1] == 'release'
    SiteDirectory.conflicts_left = 0
