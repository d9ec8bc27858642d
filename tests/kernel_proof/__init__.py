"""A protected record type declared only in the tests: its model, its declaration and its rule
(the derived face), and nothing else. Installed only when the tests run (tests/settings.py), it
proves that the record kernel gives a type every channel from its registration alone, and the
access matrix plants it like every registered type."""
