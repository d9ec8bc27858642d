"""How English pages write dates and times: day month year and a 24-hour clock ("1 May 2024, 14:05").

Only what differs from Django's ``en`` formats is here; the rest (numbers, input formats) is Django's.
"""

DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
