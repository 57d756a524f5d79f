from __future__ import annotations

import pytest

from tests.subscriptions import smtp


@pytest.fixture
def inbox(settings):
    """A real SMTP server on a loopback port, and Django's SMTP backend sending to it."""
    port = smtp.free_port()
    controller, inbox = smtp.start(port)
    smtp.use_smtp(settings, port)
    yield inbox
    controller.stop()
