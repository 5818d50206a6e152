"""The persistent classes of the QP example site, declared the QP way:
each attribute's spec in a class attribute `NAME_is`, checked by
`require` in the constructor; the notes are kept in a Keep.
"""

from durus.persistent import Persistent

from qp.lib.keep import Keep, Keyed, Stamped
from qp.lib.spec import both, boolean, either, length, require, spec, string


class Note(Persistent, Keyed, Stamped):
    """(title:str, text:str, author:str, color:str, priority:int, public:bool)"""

    title_is = spec(both(string, length(1, 80)), "what the note is about")
    text_is = spec(string, "the note")
    author_is = spec(string, "who wrote it (a user id)")
    color_is = spec(either('red', 'green', 'blue'), "its color")
    priority_is = spec(int, "1 (low) to 3 (high)")
    public_is = spec(boolean, "shown to everybody?")

    def __init__(self, title, text, author, color, priority, public):
        Stamped.__init__(self)
        require(title, self.title_is)
        require(text, self.text_is)
        self.title = title
        self.text = text
        self.author = author
        self.color = color
        self.priority = priority
        self.public = public

    def get_title(self):
        return self.title

    def get_text(self):
        return self.text

    def get_author(self):
        return self.author

    def get_color(self):
        return self.color

    def get_priority(self):
        return self.priority

    def is_public(self):
        return self.public


class NoteKeep(Persistent, Keep):
    """The site's notes, by key."""

    def __init__(self):
        Keep.__init__(self, value_spec=Note)
