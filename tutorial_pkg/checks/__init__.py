"""Exercise checkers: ``check_*(student_function)`` compares with the oracle.

Each checker prints one success line, or raises ``ExerciseFailed`` (an ``AssertionError``)
whose message is a hint.  Checkers live in one file per chapter and are re-exported here.
"""

from ._common import ExerciseFailed as ExerciseFailed
from .ch00 import *  # noqa: F403
from .ch01 import *  # noqa: F403
from .ch02 import *  # noqa: F403
from .ch03 import *  # noqa: F403
from .ch04 import *  # noqa: F403
from .ch05 import *  # noqa: F403
from .ch06 import *  # noqa: F403
from .ch07 import *  # noqa: F403
from .ch08 import *  # noqa: F403
