"""How French pages write dates and times ("1 mai 2024 14:05") and which dates forms read.

Dates and times are Django's ``fr`` formats, pinned here. Forms read ISO dates first: a date field's
``<input type="date">`` needs its value as ``2024-05-01``, and the first input format is the one the
widget writes; the French ``01/05/2024`` is still read when typed.
"""

DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y H:i"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M",
]
