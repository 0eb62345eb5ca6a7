"""Change notifications: the change log delivered to WebSub hubs, in order, at least once.

The public face used by the service (`app`), which depends on this package and never the
reverse: configuration, the runner, its state, and the websub-mode topic document.
"""

from notifier.config import Connect, NotifierConfig, Tuning
from notifier.payload import link_header
from notifier.service import Notifier, read_state
from notifier.topic import collection_exists, topic_document

__all__ = ["Connect", "Notifier", "NotifierConfig", "Tuning", "collection_exists",
           "link_header", "read_state", "topic_document"]
