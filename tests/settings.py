"""The test run's settings: the deployment's, with the apps that exist only for the tests."""

from civmil.config.settings import *  # noqa: F403
from civmil.config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.kernel_proof"]
