"""Dramatiq actors. The broker module is imported first, then every actor module the workers run."""

from actors import broker as broker
from actors import draws as draws
from actors import events as events
from actors import webhooks as webhooks
