"""Tables and domain rules of WOWsino: no web framework and no broker below this package."""
