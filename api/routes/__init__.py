"""Route handlers, one module per domain; each handler validates, calls one function, shapes the answer."""
