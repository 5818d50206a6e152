"""
The persistent things of qp2site: entries in a PersistentDict, each with a
title, a text, tags and a count of readings.
"""
import string
import sys
from durus.persistent import Persistent
from durus.persistent_dict import PersistentDict

DEFAULT_MODE = 0644


class Entry (Persistent):

    def __init__(self, title, text, tags=()):
        if not isinstance(title, basestring):
            raise TypeError, 'title must be a string'
        self.title = unicode(title)
        self.text = text
        self.tags = list(tags)
        self.readings = 0L
        self.mode = DEFAULT_MODE

    def get_title(self):
        return self.title

    def get_text(self):
        return self.text

    def get_tags(self):
        return string.join(self.tags, ', ')

    def get_shout(self):
        return string.upper(self.title)

    def read(self):
        self.readings = self.readings + 1
        return self.readings


class Entries (PersistentDict):

    def add(self, title, text, tags=()):
        key = str(len(self) + 1)
        self[key] = Entry(title, text, tags)
        return key

    def find(self, key):
        if not self.has_key(key):
            print >>sys.stderr, 'no entry', key
            return None
        return self[key]

    def titles(self):
        result = {}
        for key, entry in self.iteritems():
            result[key] = entry.get_title()
        return result

    def total_readings(self):
        total = 0L
        for entry in self.itervalues():
            total += entry.readings
        return total


def parse_count(text):
    try:
        return int(text)
    except ValueError, e:
        print 'not a count:', text
        return None
