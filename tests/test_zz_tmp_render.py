import re
from django.test import Client
from django.urls import reverse
from tests.factories import make_member
import pytest
@pytest.mark.django_db
def test_dump():
    m = make_member()
    c = Client(); c.force_login(m.user); c.cookies["django_language"] = "fr"
    for name in ["actors:liaison-log", "actors:index", "actors:areas", "actors:liaison-new", "actors:assignments", "actors:my-liaison"]:
        body = c.get(reverse(name)).content.decode()
        text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", body, flags=re.S)
        attrs = re.findall(r'(?:aria-label|title|placeholder|data-[a-z-]+)="([^"]*)"', text)
        text = re.sub(r"<[^>]+>", "\n", text)
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        print("==", name, lines[:200], attrs)
