"""The write turn: after WRITE_TURN_AFTER conflicts a hit asks the
publisher's write_turn.acquire() once, runs its next attempt holding it,
and gives it back when the hit is done; every commit goes through
write_turn.committing(); hits without conflicts never ask for the turn.
(The process server's side, locks that every worker shares, is
tested with real workers in tests/integration/test_hot_counter.py.)"""

from contextlib import contextmanager

from durus.error import ReadConflictError

from qpd.web.common import get_publisher
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
        get_publisher().get_root()['n'] = len(SiteDirectory.log)
        return 'through'


class SitePublisher(Publisher):
    configuration = dict(max_retries=10, retry_delay=0.0)


class _Turn:
    """A write turn that logs what the publisher does with it."""

    def acquire(self):
        SiteDirectory.log.append('acquire')
        return lambda: SiteDirectory.log.append('release')

    @contextmanager
    def committing(self):
        SiteDirectory.log.append('commit')
        yield


def _publisher():
    publisher = SitePublisher()
    publisher.write_turn = _Turn()
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
    assert log[-3:] == ['through', 'commit', 'release']
    SiteDirectory.conflicts_left = 0


def test_hits_without_conflicts_never_ask():
    SiteDirectory.log = []
    publisher = _publisher()
    assert _run(publisher, '/') == b'plain'
    assert _run(publisher, '/conflict') == b'through'
    assert SiteDirectory.log == ['through', 'commit']


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


# WriteTurn: the locks every worker of a pool shares ------------------------

def _child_commit(path, entered, leave):
    from qpd.server.write_turn import WriteTurn
    turn = WriteTurn(path)
    with turn.committing():
        entered.set()
        leave.wait(30)
    turn.close()


def test_no_commit_while_another_process_holds_the_turn(tmp_path):
    import multiprocessing
    import threading
    from qpd.server.write_turn import WriteTurn
    context = multiprocessing.get_context('fork')
    path = str(tmp_path / 'write-turn.lock')
    turn = WriteTurn(path)
    release = turn.acquire()
    entered, leave = context.Event(), context.Event()
    child = context.Process(target=_child_commit, args=(path, entered, leave))
    child.start()
    assert not entered.wait(0.3)        # held back by the turn
    with turn.committing():             # the holder's own commit passes
        pass
    release()
    assert entered.wait(30)             # let through once released
    # While that commit runs, taking the turn waits for it.
    taken = threading.Event()
    thread = threading.Thread(target=lambda: (turn.acquire(), taken.set()))
    thread.start()
    assert not taken.wait(0.3)
    leave.set()
    assert taken.wait(30)
    thread.join(30)
    turn.release()
    child.join(30)
    assert child.exitcode == 0 and turn.get_count() == 2
    turn.close()
