"""A lock that survives copying and pickling (worker processes, ``copy.copy``) as a fresh lock."""

import threading


class HoldsLock:
    """Gives ``self._lock``, a ``threading.Lock`` that copies and pickles as a new, unlocked one."""

    def __init__(self):
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
