"""qpd.lib.tz: time zones that Durus can store, and helpers for "now".

Zones are `zoneinfo.ZoneInfo` instances obtained through `get_zone(name)`.
They are singletons (one instance per name in a process) and they pickle by
name, so a datetime stored in Durus costs a few bytes for its zone and comes
back attached to the very same zone object.  `UTC` is the zone named 'UTC'.

Keep datetimes aware: `get_now()` gives the current time in a zone, and
`localize()` / `convert()` turn naive datetimes (from a form, a file, an old
database) into aware ones.

Store datetimes in UTC (`get_now()`, `to_utc()`) and convert them for
display.  Durus pickles with protocol 2, which drops `datetime.fold`: a
local time in the repeated hour when clocks go back would come back an hour
off.  UTC has no such hour.
"""

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    'UTC', 'get_zone', 'get_zone_names', 'get_now', 'localize', 'convert',
    'to_utc', 'is_aware', 'from_timestamp',
]


def get_zone(name):
    """(name:str | tzinfo) -> tzinfo
    The zone named name ('UTC', 'Europe/Paris', ...); a tzinfo is returned
    as it is.  An unknown name raises ValueError.
    """
    if isinstance(name, tzinfo):
        return name
    if name == 'UTC':
        return UTC
    if not isinstance(name, str):
        raise TypeError('zone name: expected str, got %s' %
                        type(name).__name__)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError('unknown time zone %r' % name) from error


def _get_utc():
    try:
        return ZoneInfo('UTC')
    except ZoneInfoNotFoundError:  # no time zone database on this system
        return timezone.utc


UTC = _get_utc()


def get_zone_names():
    """() -> [str]
    The names get_zone() accepts, sorted.
    """
    return sorted(available_timezones())


def get_now(zone=UTC):
    """(zone:str|tzinfo=UTC) -> datetime
    The current time, aware, in zone.
    """
    return datetime.now(get_zone(zone))


def is_aware(value):
    """(value:datetime) -> bool
    Does value carry a time zone with a known offset?
    """
    return value.utcoffset() is not None


def localize(value, zone=UTC):
    """(value:datetime, zone:str|tzinfo=UTC) -> datetime
    The naive datetime value read as wall-clock time in zone.  (In a
    daylight-saving gap or overlap, the earlier reading, fold=0, is used.)
    An aware value raises ValueError.
    """
    if is_aware(value):
        raise ValueError('localize() needs a naive datetime, got %r' % value)
    return value.replace(tzinfo=get_zone(zone))


def convert(value, zone=UTC, naive_zone=UTC):
    """(value:datetime, zone:str|tzinfo=UTC, naive_zone:str|tzinfo=UTC)
        -> datetime
    The same instant as value, expressed in zone.  A naive value is first
    read as wall-clock time in naive_zone.
    """
    if not is_aware(value):
        value = localize(value, naive_zone)
    return value.astimezone(get_zone(zone))


def to_utc(value):
    """(value:datetime) -> datetime
    convert(value, UTC): a naive value is taken to be UTC already.
    """
    return convert(value, UTC)


def from_timestamp(timestamp, zone=UTC):
    """(timestamp:float, zone:str|tzinfo=UTC) -> datetime
    The aware datetime for a POSIX timestamp, in zone.
    """
    return datetime.fromtimestamp(timestamp, get_zone(zone))
